"""Agent fault injection: make one agent misbehave at one of its steps, so that runs whose consensus goes wrong
become labelled trajectories (who and when are known) for the attribution tracer.

The faults are meant to look like real mistakes, not to be found by their wording:
- the wrong culprit (the decoy) is a real caller or callee of the honest leader, else a runner-up of the ranking;
- every number a faulty agent writes is one the incident's telemetry holds, of the wrong entity, the wrong metric
  or the baseline window, written in the form the tools and the honest agents write it;
- each mode has several phrasing templates in the honest agents' words, chosen by the spec (an evaluation trains on
  some templates and scores on the others) or by the seed. No fixed phrase marks a fault.

AGENT:STEP:MODE, STEP counted within the agent's own steps (0 = its first decision). Modes:
- hallucinate:  at that step the agent stops investigating and concludes on the decoy, on its own real numbers
- misreport:    the agent concludes on the decoy with numbers read from the wrong place: the leader's (wrong
                service), another metric's (wrong metric) or the baseline window's (stale window)
- vote_against: the agent votes against what its own evidence says, with a made-up reason in a voter's words
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field, replace
from typing import Any

from engine.agents.roles import ROLE_BY_KEY
from engine.agents.tools import Toolbox
from engine.reasoners.base import Reasoner, StepDecision, StepRequest, VoteDecision, VoteRequest
from engine.reasoners.heuristic import describe_reach, share_of_top

MODES = ("hallucinate", "misreport", "vote_against")
TEMPLATES = 4
"""Phrasing templates per mode (0 .. TEMPLATES-1)."""
OPPOSITE = {"for": "against", "against": "for", "abstain": "for"}
SOURCES = {"hallucinate": ("own",) * TEMPLATES,
           "misreport": ("wrong_service", "wrong_metric", "stale_window", "wrong_service")}
"""Where each template's numbers come from."""


@dataclass(frozen=True)
class FaultSpec:
    agent: str
    step: int
    mode: str
    template: int | None = None
    """Phrasing template; None: chosen by the run's seed."""

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        parts = text.split(":")
        if len(parts) != 3:
            raise ValueError(f"--inject-fault expects AGENT:STEP:MODE, got {text!r}")
        agent, step, mode = parts
        if agent not in ROLE_BY_KEY:
            raise ValueError(f"--inject-fault: unknown agent {agent!r}; agents are {', '.join(ROLE_BY_KEY)}")
        if not step.isdigit():
            raise ValueError(f"--inject-fault: STEP must be a number >= 0, got {step!r}")
        if mode not in MODES:
            raise ValueError(f"--inject-fault: MODE must be one of {', '.join(MODES)}, got {mode!r}")
        return cls(agent, int(step), mode)

    def to_dict(self) -> dict:
        return {"agent": self.agent, "step": self.step, "mode": self.mode, "template": self.template}


@dataclass(frozen=True)
class Telemetry:
    """What the injector draws names and numbers from: the incident's telemetry as the tools show it."""

    leader: str
    """The honest ranking's first entity."""
    decoy: str
    alerted: str
    scores: dict[str, float]
    """Fused ranking score per entity, best first."""
    parts: dict[str, list[tuple[str, str]]]
    """Per entity, (modality, summary) of each modality where it deviates, strongest first."""
    metrics: dict[str, dict[str, dict]]
    """Per entity, each metric's worst window value, normal level and z."""
    shares: dict[str, dict[str, float]]
    """Per entity, its score in each modality as a share of that modality's top score."""
    callees: dict[str, list[str]] = field(default_factory=dict)
    paths: dict[str, list[str]] = field(default_factory=dict)
    """Call path from the alerted entity down to an entity."""
    readings: dict[str, dict[str, dict]] = field(default_factory=dict)
    """Per entity, its modalities' score and summary as baseline_compare shows them."""
    below: dict[str, list[str]] = field(default_factory=dict)
    """Per entity, every entity it depends on, as the dependencies tool shows them."""


def read_telemetry(toolbox: Toolbox, seed: int) -> Telemetry:
    ranking = toolbox.ranking
    leader = ranking[0].entity if ranking else toolbox.incident.alert.entity
    decoy = choose_decoy(toolbox, leader, seed)
    scores = {c.entity: round(c.score, 4) for c in ranking[:8]}
    named = list(dict.fromkeys([leader, decoy, *scores]))
    return Telemetry(leader, decoy, toolbox.incident.alert.entity, scores,
                     parts={e: _parts(toolbox.signals, e) for e in named},
                     metrics={e: toolbox.metric_query(e)["metrics"] for e in (leader, decoy)},
                     shares={e: _shares(toolbox.signals, e) for e in named},
                     callees={e: toolbox.dependencies(e)["direct"] for e in (leader, decoy)},
                     paths={e: toolbox.propagation_path(e)["path"] for e in (leader, decoy)},
                     readings={e: toolbox.baseline_compare(e)["modalities"] for e in (leader, decoy)},
                     below={e: _below(toolbox, e) for e in (leader, decoy)})


def choose_decoy(toolbox: Toolbox, leader: str, seed: int) -> str:
    """A plausible wrong culprit: a caller or callee of the leader that the ranking also lists (a real neighbour
    the fault could have spread to), else a runner-up of the ranking; chosen by the seed."""
    ranked = [c.entity for c in toolbox.ranking if c.entity != leader]
    neighbours = set(toolbox.dependencies(leader, "upstream")["direct"] + toolbox.dependencies(leader)["direct"])
    choices = [e for e in ranked[:8] if e in neighbours] or ranked[:3] or [leader]
    return choices[seed % len(choices)]


def _parts(signals: dict, entity: str) -> list[tuple[str, str]]:
    rows = [(m, s[entity]) for m, s in signals.items() if entity in s and s[entity].score > 0 and s[entity].summary]
    return [(m, signal.summary) for m, signal in sorted(rows, key=lambda row: -row[1].score)]


def _shares(signals: dict, entity: str) -> dict[str, float]:
    """Per modality where `entity` has a reading and some entity scores, its share of the top score."""
    scores = {modality: {e: s.score for e, s in per_entity.items()} for modality, per_entity in signals.items()}
    return {modality: share_of_top(row, entity) for modality, row in scores.items()
            if entity in row and max(row.values()) > 0}


def _below(toolbox: Toolbox, entity: str) -> list[str]:
    dependencies = toolbox.dependencies(entity)
    return dependencies["direct"] + dependencies["indirect"]


class FaultyReasoner:
    """Wraps a reasoner; answers exactly as it would, except where the fault strikes."""

    def __init__(self, inner: Reasoner, fault: FaultSpec, telemetry: Telemetry, seed: int = 0):
        self.inner, self.fault, self.telemetry = inner, fault, telemetry
        self.template = fault.template if fault.template is not None else seed % TEMPLATES
        self.name = inner.name
        self.struck_at: int | None = None  # the agent-local step where the fault took effect

    @property
    def decoy(self) -> str:
        return self.telemetry.decoy

    def as_believed(self, request: VoteRequest) -> VoteRequest:
        """Once its answer went wrong, the agent votes from what it believes: its own observations with the decoy's
        and the leader's readings the other way round, as its answer reported them."""
        if self.struck_at is None:
            return request
        t = self.telemetry
        swap = {t.decoy: t.leader, t.leader: t.decoy}
        evidence = [(thought, replace(obs, args=_renamed(obs.args, swap), result=_renamed(obs.result, swap)))
                    for thought, obs in request.evidence]
        return replace(request, evidence=evidence)

    def next_step(self, request: StepRequest) -> StepDecision:
        decision = self.inner.next_step(request)
        strikes = (request.role == self.fault.agent and self.fault.mode != "vote_against"
                   and self.struck_at is None and (request.step >= self.fault.step or decision.is_final))
        if not strikes:
            return decision
        self.struck_at = request.step
        answer = decision.answer if decision.is_final else _empty_answer(request.role)
        return corrupt(answer, request, self.telemetry, self.fault.mode, self.template)

    def vote(self, request: VoteRequest) -> VoteDecision:
        if request.role != self.fault.agent:
            return self.inner.vote(request)
        if self.fault.mode != "vote_against":
            return self.inner.vote(self.as_believed(request))
        decision = self.inner.vote(request)
        option = OPPOSITE[decision.option]
        return VoteDecision(option, made_up_reason(option, request.proposal["root_cause"], self.telemetry,
                                                   self.template))


# ---- what the faulty agent believes: each entity's (score, parts) as it reads them ---------------------------
def believed(telemetry: Telemetry, source: str) -> dict[str, tuple[float, list[tuple[str, str]]]]:
    """The decoy and the leader as the faulty agent reports them: their scores swapped (each a real score, of the
    other entity), and the evidence text from `source`."""
    t = telemetry
    decoy_score, leader_score = t.scores.get(t.leader, 0.0), t.scores.get(t.decoy, 0.0)
    decoy_parts, leader_parts = t.parts.get(t.decoy, []), t.parts.get(t.leader, [])
    if source == "wrong_service":
        decoy_parts, leader_parts = leader_parts, decoy_parts
    elif source == "wrong_metric":
        decoy_parts = _wrong_metric(t.metrics.get(t.decoy, {}), t.metrics.get(t.leader, {})) or leader_parts
    elif source == "stale_window":
        leader_parts = _stale(t.metrics.get(t.leader, {})) or decoy_parts
    return {t.decoy: (decoy_score, decoy_parts), t.leader: (leader_score, leader_parts)}


def _wrong_metric(own: dict, leader: dict) -> list[tuple[str, str]]:
    """The decoy's largest reading reported under the name (and normal level) of the metric the leader is worst on."""
    named = max(leader, key=lambda m: leader[m]["z"] or 0.0, default=None)
    readings = [(m, row) for m, row in own.items() if row["value"] is not None and m != named]
    if named not in own or own[named]["normal"] is None or not readings:
        return []
    largest = max(readings, key=lambda row: row[1]["value"])[1]["value"]
    return [("metrics", f"{named} {_number(largest)} (normal {_number(own[named]['normal'])})")]


def _stale(own: dict) -> list[tuple[str, str]]:
    """The leader's most deviating metrics as they read in the baseline window: at their normal level."""
    worst = sorted((m for m in own if own[m]["normal"] is not None), key=lambda m: -(own[m]["z"] or 0.0))[:2]
    return [("metrics", f"{m} {_number(own[m]['normal'])} (normal {_number(own[m]['normal'])})") for m in worst]


def _number(value: float) -> str:
    return f"{value:.3g}"


# ---- the corrupted answer and its thought ----------------------------------------------------------------------
THOUGHTS = {
    "hallucinate": (
        "{decoy} stands out in the sweep, highest of {n} at {score}.",
        "{decoy} leads or nearly leads {modality}; that settles it.",
        "How would a fault in {decoy} reach the alert? Along {path}.",
        "{decoy} scores {score} (best {score}), {leader} only {leader_score}.",
    ),
    "misreport": (
        "{decoy} scores {score}, highest of {n}.",
        "Evidence collected on {n} entities; {decoy}: {evidence}.",
        "{leader}: {leader_evidence}; {decoy} scores {score}, highest of {n}.",
        "{decoy} leads or nearly leads {modality} ({share} of the top score).",
    ),
}


def corrupt(answer: dict | None, request: StepRequest, telemetry: Telemetry, mode: str, template: int) -> StepDecision:
    beliefs = believed(telemetry, SOURCES[mode][template])
    answer = copy.deepcopy(answer or {})
    role, t = request.role, telemetry
    if role == "probability_oracle":
        answer["candidates"] = _reranked(answer.get("candidates", []), beliefs)
    elif role == "data_detective":
        answer["focus"] = [t.decoy] + [e for e in answer.get("focus", []) if e != t.decoy]
        answer["findings"] = _misread_findings(answer.get("findings", []), beliefs, t)
        answer["summary"] = "; ".join(_describe(e, parts) for e, (_, parts) in beliefs.items())
    elif role == "dependency_explorer":
        answer["downstream"] = _misread_map(answer.get("downstream", {}), t)
        answer["summary"] = describe_reach(answer["downstream"])
    elif role == "fault_mapper":
        answer["fault_web"] = {t.decoy: t.paths.get(t.decoy, [t.decoy, t.alerted]),
                               **{k: v for k, v in answer.get("fault_web", {}).items() if k != t.decoy}}
    else:
        answer = _retargeted(answer, t.leader, t.decoy)
    return StepDecision(_thought(mode, template, beliefs, t), answer=answer)


def _misread_findings(findings: list[dict], beliefs: dict, t: Telemetry) -> list[dict]:
    """The Data Detective's findings with the decoy's and the leader's readings as it believes them: each one's
    modality scores are the other's (real readings, swapped like the scores in `believed`), the summaries those of
    its believed evidence; a modality only the other one reads is reported at 0."""
    swapped = {t.decoy: t.readings.get(t.leader, {}), t.leader: t.readings.get(t.decoy, {})}
    modalities = list(dict.fromkeys([*swapped[t.decoy], *swapped[t.leader]]))
    believed_rows = []
    for entity, (_, parts) in beliefs.items():
        said = dict(parts)
        believed_rows.append({"entity": entity, "modalities": {
            m: {"score": swapped[entity].get(m, {}).get("score", 0.0), "summary": said.get(m, "")}
            for m in modalities}})
    return believed_rows + [f for f in findings if f["entity"] not in beliefs]


def _misread_map(graph: dict[str, list[str]], t: Telemetry) -> dict[str, list[str]]:
    """The Dependency Explorer's map with the decoy where the leader is (it read the wrong service's entry, so the
    leader drops out of what the alerted entity and the others depend on); one that stopped before mapping the
    alerted entity reports the branch it followed: the call path down to the decoy and what the decoy calls."""
    if t.alerted not in graph:
        graph = {t.alerted: [*t.paths.get(t.decoy, [t.alerted, t.decoy])[1:], *t.below.get(t.decoy, [])], **graph}
    misread = _retargeted(graph, t.leader, t.decoy)
    return {entity: [e for e in below if e != entity] for entity, below in misread.items()}


def _thought(mode: str, template: int, beliefs: dict, t: Telemetry) -> str:
    score, parts = beliefs[t.decoy]
    modality, share = max(t.shares.get(t.decoy, {"metrics": 0.0}).items(), key=lambda item: item[1])
    return THOUGHTS[mode][template].format(
        decoy=t.decoy, leader=t.leader, score=f"{score:.2f}", n=len(t.scores),
        leader_score=f"{beliefs[t.leader][0]:.2f}", path=" -> ".join(t.paths.get(t.decoy, [t.decoy])),
        modality=modality, share=f"{max(share, 0.5):.0%}",
        evidence=_describe_parts(parts), leader_evidence=_describe_parts(beliefs[t.leader][1]))


def _reranked(candidates: list[dict], beliefs: dict) -> list[dict]:
    """The decoy first, the leader where its believed score puts it, every other row as it was; an agent that
    stopped before ranking anything lists the decoy alone."""
    rows = [dict(c) for c in candidates if c["entity"] not in beliefs]
    believed_rows = [{**next((c for c in candidates if c["entity"] == e), {"entity": e}), "score": score,
                      "reason": _reason(e, parts)} for e, (score, parts) in beliefs.items()]
    decoy, others = believed_rows[0], believed_rows[1:]
    decoy["score"] = max([c["score"] for c in candidates] + [decoy["score"]])
    rest = sorted(rows + others, key=lambda c: -c["score"])
    return [decoy] + rest[:len(candidates) - 1]


def _reason(entity: str, parts: list[tuple[str, str]]) -> str:
    return f"{entity}: " + "; ".join(summary for _, summary in parts[:2]) if parts else entity


def _describe(entity: str, parts: list[tuple[str, str]]) -> str:
    return f"{entity}: {_describe_parts(parts)}"


def _describe_parts(parts: list[tuple[str, str]]) -> str:
    return ", ".join(f"{m} {summary}" for m, summary in parts[:3]) or "normal"


def _retargeted(value: Any, old: str, new: str) -> Any:
    """The answer about the wrong entity: every mention of the leader names the decoy."""
    return _renamed(value, {old: new}) if old else value


def _renamed(value: Any, names: dict[str, str], mention: re.Pattern | None = None) -> Any:
    """`value` with each name in `names` replaced by its new name wherever it is mentioned: a key, a list item or a
    value equal to it, or the whole name inside a text (other names that contain it are left alone); each list
    keeps one of each name."""
    mention = mention or _mention(names)
    if isinstance(value, dict):
        return {_renamed(key, names, mention): _renamed(item, names, mention) for key, item in value.items()}
    if isinstance(value, list):
        items = [_renamed(item, names, mention) for item in value]
        return [item for index, item in enumerate(items) if not isinstance(item, str) or item not in items[:index]]
    if isinstance(value, str):
        return mention.sub(lambda match: names[match.group(0)], value)
    return value


def _mention(names: dict[str, str]) -> re.Pattern:
    """Whole mentions of any of `names` (longest first, so a name inside a longer one is not taken for it)."""
    alternatives = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![\w.-])(?:{alternatives})(?![\w-])")


# ---- votes -------------------------------------------------------------------------------------------------------
REASONS = {
    "against": (
        "{root} scores {low}, far below {other} ({top})",
        "{root} deviates at most {small} as much as the most anomalous entity of any modality",
        "{root} calls {callee}, which is more anomalous ({top} vs {low})",
        "no call path links {root} to the alerted entity",
    ),
    "for": (
        "{root} scores {top} (best {top})",
        "{root} leads or nearly leads {modality} ({large} of the top score)",
        "none of the {n} services {root} calls is more anomalous than it",
        "the fault can propagate {path}",
    ),
}


def made_up_reason(option: str, root: str, t: Telemetry, template: int) -> str:
    """A reason for `option` in a voter's words, its names and numbers taken from the telemetry but not from what
    the evidence says of `root`."""
    scores = sorted(t.scores.values(), reverse=True) or [0.0]
    other = next((e for e in (t.decoy, t.leader) if e != root), t.decoy)
    callee = next(iter(t.callees.get(root) or t.callees.get(other) or [other]))
    shares = sorted(v for row in t.shares.values() for v in row.values() if v > 0) or [0.0]
    modality = max(t.shares.get(other, {"metrics": 0.0}).items(), key=lambda item: item[1])[0]
    return REASONS["for" if option == "for" else "against"][template].format(
        root=root, other=other, callee=callee, top=f"{scores[0]:.2f}", low=f"{scores[-1]:.2f}",
        small=f"{shares[0]:.0%}", large=f"{max(shares[-1], 0.5):.0%}", modality=modality,
        n=len(t.callees.get(root, [])), path=" -> ".join(t.paths.get(root) or [root, t.alerted]))


EMPTY_VALUES = {"priority": "P3", "subtasks": [], "focus": [], "summary": "", "downstream": {},
                "candidates": [], "fault_web": {}, "repair_steps": []}


def _empty_answer(role: str) -> dict:
    """The answer an agent gives when it stops before finding anything."""
    from engine.reasoners.replies import ANSWER_KEYS

    return {key: EMPTY_VALUES[key] for key in ANSWER_KEYS[role]}
