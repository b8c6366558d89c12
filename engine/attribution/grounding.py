"""Grounding audit of a run's own transcript: do the numbers an agent reports for an entity match what the tool
outputs earlier in the same run showed for that entity, and do the maps it reports (an entity and the entities it
lists under it: what it calls, how a fault reaches the alert) agree with what the topology tools showed?

An auditor who holds the ledger has every tool output and every report, so this is evidence a real audit has,
not knowledge of how a fault was made. Each number in a step belongs to the entity named last before it (the
tools and the honest agents write "entity ... reading (normal level)" and JSON rows whose "entity" comes first);
the same rule reads the tool outputs and the reports, so an honest copy of a tool's reading is grounded and a
reading moved to another entity, or read off another metric or window, is not. A tool output's number inside a
JSON object that names its entity is that entity's too (a ranking row whose reason names other services before its
score). Honest agents copy or round what their tools showed, so one reading a report gives that no tool output
showed (a score no ranking gave) is a divergence. Names are the entities the tool outputs speak of (their
``"entity"`` fields); a trajectory with none (Who&When) has no pairs, every count 0.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import numpy as np

from engine.attribution.schema import Step

_ENTITY_FIELD = re.compile(r'"(?:entity|root|alerted)"\s*:\s*"([^"]+)"')
_SUBJECT_FIELD = re.compile(r'"(?:entity|root)"\s*:\s*"([^"]+)"')
_NAME_LIST = re.compile(r'"([^"]+)"\s*:\s*\[((?:\s*"[^"\s]*"\s*,?)*)\]')
"""A key and a list of names (quoted strings without spaces: entity names, not sentences)."""
_QUOTED = re.compile(r'"([^"]*)"')
_READING = re.compile(r"(?<![\w.])(?!\d{10}(?:\.0+)?(?![\d.]))(?:\d+\.\d+|[1-9]\d{2,})(?![\d%-]|\.\d)")
"""A reading: a number with decimals, or an integer of three digits or more; not a count, a step number, a date
(its parts, or a Unix time: ten whole digits) or a percentage (a share of some top score), which agents derive or
convert rather than read off a tool."""
_JSON_TOKEN = re.compile(r'(?P<key>"(?:[^"\\]|\\.)*")\s*:|"(?:[^"\\]|\\.)*"|[{}\[\]]|[^\s"{}\[\],:]+')
"""A JSON key (a string and its colon), a string, a bracket, or a bare value (a number, true, null)."""
_ROUNDINGS = range(5)
_SOURCE_KINDS = ("query", "observation")
"""Steps that are data to the agents (the question with its alert, the tool outputs), not their reports."""
_TOOL_KINDS = ("observation",)
REPORT_KINDS = ("action", "tx")
"""What an agent tells the others (an answer, an action's arguments, a vote); a thought is its own reasoning."""


@dataclass(frozen=True)
class Grounding:
    misattributed: np.ndarray
    """Per step: entity-reading pairs the step reports whose reading an earlier tool output showed for another
    entity, never for this one nor for the entity the step names first (what it is about, whose readings it may
    quote anywhere), and no earlier report gave (a reading moved from one entity to another)."""
    unseen: np.ndarray
    """Per step: pairs whose reading no earlier tool output showed for any entity (counts, dates, derived shares,
    or made-up figures), and no earlier report gave."""
    pairs: np.ndarray
    """Per step: entity-reading pairs it reports (0 for tool outputs and the question)."""
    dropped: np.ndarray
    """Per step: names a tool output related to an entity that the step's map leaves out under that entity (against
    the output it agrees with most)."""
    unsupported: np.ndarray
    """Per step: names the step's map lists under an entity that no earlier tool output (complete ones) related to
    it, all of them when none had mapped that entity yet."""
    echoed: np.ndarray
    """Per step: ungrounded readings and maps it passes on as an earlier report (an answer, an action, a vote) gave
    them: where a divergence travels, not where it started (those are not counted above)."""
    report: np.ndarray
    """Per step: whether it is a report (what an agent tells the others: :data:`REPORT_KINDS`)."""

    @property
    def misattributed_share(self) -> np.ndarray:
        return self.misattributed / np.maximum(1, self.pairs)

    @property
    def diverging(self) -> np.ndarray:
        """Steps whose reports disagree with the tools: a reading moved between entities, a reading shown nowhere
        (made up, or reported before anything was read: honest agents copy or round what their tools showed, so
        one such reading is enough), or a map that drops or adds relations."""
        return (self.misattributed + self.unseen + self.dropped + self.unsupported) > 0

    def first_divergence(self) -> int:
        """The first diverging step (-1 when none is)."""
        diverging = np.nonzero(self.diverging)[0]
        return int(diverging[0]) if len(diverging) else -1

    def first_diverging_report(self) -> int:
        """The first diverging report (-1 when none is): where a divergence first reached the other agents."""
        diverging = np.nonzero(self.diverging & self.report)[0]
        return int(diverging[0]) if len(diverging) else -1


def audit(trajectory) -> Grounding:
    names = entity_names(trajectory)
    known = set(names)
    mention = _mention(names) if names else None
    shown: dict[str, set[str]] = {}
    anywhere: set[str] = set()
    related: dict[str, list[set[str]]] = {}
    incomplete: set[str] = set()
    reported: set[tuple[str, str]] = set()
    reported_maps: set[tuple[str, frozenset]] = set()
    misattributed, unseen, pairs, dropped, unsupported, echoed = (np.zeros(len(trajectory.steps)) for _ in range(6))
    for step in (_question_step(trajectory), *trajectory.steps):
        readings = entity_readings(step.content, mention) if mention else []
        if step.kind in _SOURCE_KINDS:
            everything = {form for number in _READING.findall(step.content) for form in number_forms(number)}
            for entity, number in (*readings, *object_readings(step.content)):
                shown.setdefault(entity, set()).update(number_forms(number))
            if subject := sole_subject(step.content):
                shown.setdefault(subject, set()).update(everything)
            anywhere.update(everything)
            _record_relations(step.content, related, incomplete)
        else:
            pairs[step.index] = len(readings)
            about = shown.get(readings[0][0], set()) if readings else set()
            foreign = [(entity, number) for entity, number in readings
                       if number not in shown.get(entity, ()) and number not in about]
            passed_on = [pair for pair in foreign if pair in reported]
            new = [number for entity, number in foreign if (entity, number) not in reported]
            misattributed[step.index] = sum(number in anywhere for number in new)
            unseen[step.index] = len(new) - misattributed[step.index]
            echoed[step.index] = len(passed_on)
            maps = reported_relations(step.content, known)
            for key, names in maps:
                if (key, frozenset(names)) in reported_maps:
                    echoed[step.index] += 1
                    continue
                shown_maps = related.get(key, [set()])
                dropped[step.index] += min(len(shown_names - names - {key}) for shown_names in shown_maps)
                if key not in incomplete:
                    unsupported[step.index] += len(names - set().union(*shown_maps) - {key})
            if step.kind in REPORT_KINDS:
                reported.update((entity, form) for entity, number in readings for form in number_forms(number))
                reported_maps.update((key, frozenset(names)) for key, names in maps)
    report = np.array([step.kind in REPORT_KINDS for step in trajectory.steps], dtype=bool)
    return Grounding(misattributed, unseen, pairs, dropped, unsupported, echoed, report)


def sole_subject(output: str) -> str | None:
    """The entity a tool output is about, when it names one alone (a baseline comparison, a dependency list):
    every reading in it is that entity's, in whatever order its fields come."""
    subjects = set(_SUBJECT_FIELD.findall(output))
    return subjects.pop() if len(subjects) == 1 else None


def object_readings(output: str) -> list[tuple[str, str]]:
    """(entity, number) for each reading inside a JSON object of the output that names its entity (a ranking row,
    a finding), however deep in it: its fields may name other entities before its own numbers ("reason": "... its
    downstream X stayed normal", "score": 0.25), and those numbers are still the object's entity's. Read token by
    token, so an output cut short still gives the objects it holds."""
    pairs: list[tuple[str, str]] = []
    frames: list[_Frame] = []
    key = None
    for token in _JSON_TOKEN.finditer(output, max(0, output.find("{"))):
        if token.group("key"):
            key = token.group("key")
            continue
        text = token.group(0)
        if text in ("{", "["):
            frames.append(_Frame())
        elif text in ("}", "]"):
            _close(frames, pairs)
        elif frames and key == '"entity"' and text.startswith('"'):
            frames[-1].entity = text.strip('"')
        elif frames:
            frames[-1].numbers += _READING.findall(text)
        key = None
    while frames:
        _close(frames, pairs)
    return pairs


@dataclass
class _Frame:
    """An open JSON object or list: the entity it names, and the readings inside it not yet given to one."""

    entity: str | None = None
    numbers: list[str] = field(default_factory=list)


def _close(frames: list[_Frame], pairs: list[tuple[str, str]]) -> None:
    """An object or list ends: its readings are its entity's, else they belong to the one around it."""
    if not frames:
        return
    frame = frames.pop()
    if frame.entity:
        pairs.extend((frame.entity, number) for number in frame.numbers)
    elif frames:
        frames[-1].numbers += frame.numbers


def _question_step(trajectory) -> Step:
    """The question as a source step (index -1: it counts as shown, it is no step of the run)."""
    return Step(index=-1, agent="question", kind="query", content=trajectory.query)


def _record_relations(output: str, related: dict[str, list[set[str]]], incomplete: set[str]) -> None:
    """What a tool output relates its subject to (one set per output: a map is compared with the output it agrees
    with most); a subject of an output cut short may have more than it lists."""
    subject = _SUBJECT_FIELD.search(output)
    if subject is None:
        return
    names = {name for match in _NAME_LIST.finditer(output) for name in _QUOTED.findall(match.group(2))}
    related.setdefault(subject.group(1), []).append(names)
    if not _complete_json(output):
        incomplete.add(subject.group(1))


def reported_relations(text: str, entities: set[str]) -> list[tuple[str, set[str]]]:
    """(key, names) for each complete list the text gives under an entity's name."""
    return [(match.group(1), set(_QUOTED.findall(match.group(2)))) for match in _NAME_LIST.finditer(text)
            if match.group(1) in entities]


def _complete_json(output: str) -> bool:
    start = output.find("{")
    try:
        json.loads(output[start:])
    except ValueError:
        return False
    return start >= 0


def entity_names(trajectory) -> list[str]:
    """The entities the run's tool outputs speak of."""
    return sorted({name for step in trajectory.steps if step.kind in _TOOL_KINDS
                   for name in _ENTITY_FIELD.findall(step.content)})


def entity_readings(text: str, mention: re.Pattern) -> list[tuple[str, str]]:
    """(entity, number) for each reading, paired with the last entity named before it; readings before the first
    name belong to it (a JSON row whose "entity" field sorts after its numbers)."""
    names = list(mention.finditer(text))
    if not names:
        return []
    readings, current, following = [], names[0].group(0), iter(names)
    upcoming = next(following)
    for number in _READING.finditer(text):
        while upcoming is not None and upcoming.start() <= number.start():
            current, upcoming = upcoming.group(0), next(following, None)
        if not any(name.start() <= number.start() < name.end() for name in names):
            readings.append((current, number.group(0)))
    return readings


def number_forms(number: str) -> set[str]:
    """The ways a reading may be written again: as it is, rounded, or a share written as a percentage."""
    value = float(number)
    return {number} | {f"{scaled:.{digits}f}" for scaled in (value, value * 100) for digits in _ROUNDINGS}


def _mention(names: list[str]) -> re.Pattern:
    alternatives = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![\w.-])(?:{alternatives})(?![\w-])")
