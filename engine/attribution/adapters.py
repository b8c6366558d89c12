"""Adapters: raw records -> :class:`Trajectory` (design 003, section 6).

* Who&When Hand-Crafted: speaker in ``role`` ("Orchestrator (thought)", "Orchestrator (-> WebSurfer)", ...).
* Who&When Algorithm-Generated: speaker in ``name`` (``role`` only says user/assistant).
* Generic JSONL: one step per line, ``{"agent", "content", optional "kind", "context", "events", ...}``.
* Engine runs: a list of step dicts ``{"agent", "kind", "content"}`` (see :func:`from_engine_steps`).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable

from engine.attribution.context import DEFAULT_POLICY, apply_context_policy
from engine.attribution.schema import STEP_KINDS, Label, Step, Trajectory, TrajectoryError, validate

_HC_SPEAKER = re.compile(r"^\s*(?P<agent>[^()]+?)\s*(?:\((?P<detail>[^)]*)\))?\s*$")
_QUERY_SPEAKERS = {"human", "user"}


def speaker_to_agent_kind(speaker: str) -> tuple[str, str]:
    """"Orchestrator (thought)" -> ("Orchestrator", "thought"); "Orchestrator (-> X)" -> action; "human" -> query."""
    match = _HC_SPEAKER.match(speaker or "")
    agent = match.group("agent").strip() if match else (speaker or "").strip()
    detail = (match.group("detail") or "").strip().lower() if match else ""
    if agent.lower() in _QUERY_SPEAKERS:
        return agent, "query"
    if detail == "thought":
        return agent, "thought"
    if detail.startswith("->"):
        return agent, "action"
    if "terminal" in agent.lower():
        return agent, "observation"
    return agent, "message"


def from_who_when(record: dict[str, Any], source: str, policy: str = DEFAULT_POLICY) -> Trajectory:
    """One Who&When record (either subset; the subset is told apart by whether steps carry ``name``)."""
    history = _require(record, "history", list, source, "a list of steps")
    algorithm_generated = any(isinstance(entry, dict) and "name" in entry for entry in history)
    speaker_field = "name" if algorithm_generated else "role"
    steps = tuple(_who_when_step(entry, i, speaker_field, source) for i, entry in enumerate(history))
    trajectory = Trajectory(
        id=str(record.get("question_ID") or Path(source).stem),
        query=str(record.get("question", "")),
        steps=steps,
        label=_who_when_label(record, source),
        ground_truth=_optional_text(record, "ground_truth", "groundtruth"),
        meta={
            "dataset": "who_when",
            "subset": "Algorithm-Generated" if algorithm_generated else "Hand-Crafted",
            "source": source,
        },
        raw=record,
    )
    return validate(apply_context_policy(trajectory, policy), source)


def _who_when_step(entry: Any, index: int, speaker_field: str, source: str) -> Step:
    if not isinstance(entry, dict):
        raise TrajectoryError(source, f"history[{index}]", "an object with role/name and content", entry)
    speaker = entry.get(speaker_field)
    if not isinstance(speaker, str) or not speaker.strip():
        raise TrajectoryError(source, f"history[{index}].{speaker_field}", "the speaker's name (a string)", speaker)
    content = entry.get("content")
    if not isinstance(content, str):
        raise TrajectoryError(source, f"history[{index}].content", "a string", content)
    agent, kind = speaker_to_agent_kind(speaker)
    return Step(index=index, agent=agent, kind=kind, content=content, speaker=speaker, raw=entry)


def _who_when_label(record: dict[str, Any], source: str) -> Label | None:
    if "mistake_agent" not in record and "mistake_step" not in record:
        return None
    step = record.get("mistake_step")
    if step is not None and not (isinstance(step, int) or (isinstance(step, str) and step.strip().isdigit())):
        raise TrajectoryError(source, "mistake_step", "a 0-based step index (an integer, or a string of digits)", step)
    return Label(
        who=_optional_text(record, "mistake_agent"),
        when=None if step is None else int(step),
        reason=_optional_text(record, "mistake_reason"),
    )


def from_steps(
    steps: Iterable[dict[str, Any]],
    trajectory_id: str,
    query: str = "",
    source: str | None = None,
    label: Label | None = None,
    policy: str = DEFAULT_POLICY,
    meta: dict[str, Any] | None = None,
) -> Trajectory:
    """Generic step dicts (``agent``, ``content``; optional ``kind``, ``context``, ``events``) -> trajectory."""
    where = source or trajectory_id
    parsed = tuple(_generic_step(entry, i, where) for i, entry in enumerate(steps))
    trajectory = Trajectory(
        id=trajectory_id, query=query, steps=parsed, label=label, meta={"source": where, **(meta or {})}
    )
    return validate(apply_context_policy(trajectory, policy), where)


def from_engine_steps(steps: Iterable[dict[str, Any]], run_id: str, query: str = "") -> Trajectory:
    """An engine run (agent thoughts, actions, observations, txs in order) -> trajectory."""
    return from_steps(steps, trajectory_id=run_id, query=query, meta={"dataset": "engine_run"})


def _generic_step(entry: Any, index: int, where: str) -> Step:
    if not isinstance(entry, dict):
        raise TrajectoryError(where, f"step {index}", "an object with agent and content", entry)
    agent = entry.get("agent") or entry.get("name")
    if not isinstance(agent, str) or not agent.strip():
        raise TrajectoryError(where, f"step {index}: agent", "a non-empty agent name", agent)
    content = entry.get("content")
    if not isinstance(content, str):
        raise TrajectoryError(where, f"step {index}: content", "a string", content)
    kind = entry.get("kind", "message")
    if kind not in STEP_KINDS:
        raise TrajectoryError(where, f"step {index}: kind", f"one of {', '.join(STEP_KINDS)}", kind)
    context = entry.get("context", [])
    if not isinstance(context, list) or not all(isinstance(i, int) for i in context):
        raise TrajectoryError(where, f"step {index}: context", "a list of earlier step indices", context)
    return Step(
        index=index,
        agent=agent.strip(),
        kind=kind,
        content=content,
        speaker=agent,
        context=tuple(context),
        events=tuple(entry.get("events", ())),
        raw=entry,
    )


def load_jsonl(path: Path, policy: str = DEFAULT_POLICY) -> Trajectory:
    """One step per line. A first line ``{"query": ..., "label": {"who", "when"}}`` without ``content`` is a header."""
    rows = []
    for number, line in enumerate(_file_text(path).splitlines(), start=1):
        if line.strip():
            rows.append(_json_line(line, path, number))
    header = rows.pop(0) if rows and "content" not in rows[0] else {}
    label_data = header.get("label")
    label = Label(who=label_data.get("who"), when=label_data.get("when")) if isinstance(label_data, dict) else None
    return from_steps(
        rows, trajectory_id=str(header.get("id", path.stem)), query=str(header.get("query", "")),
        source=str(path), label=label, policy=policy,
    )


def load_trajectory(path: Path | str, policy: str = DEFAULT_POLICY) -> Trajectory:
    """A Who&When ``.json`` record, a ``.json`` list of steps, or a ``.jsonl`` file of steps."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return load_jsonl(path, policy)
    record = _parse_json(_file_text(path), str(path), "(file)")
    if isinstance(record, dict) and "history" in record:
        return from_who_when(record, str(path), policy)
    if isinstance(record, list):
        return from_steps(record, trajectory_id=path.stem, source=str(path), policy=policy)
    raise TrajectoryError(str(path), "(top level)", "a Who&When record (with 'history') or a list of steps", record)


def load_trajectories(path: Path | str, subset: str = "all", policy: str = DEFAULT_POLICY,
                      skipped: list[TrajectoryError] | None = None) -> list[Trajectory]:
    """A file, or a folder of files (a Who&When root with Hand-Crafted/ and Algorithm-Generated/ works too). Given a
    ``skipped`` list, a folder's file that cannot become a trajectory is left out and its error appended there, so
    one bad file does not stop the rest; without one, the first bad file raises."""
    path = Path(path)
    if path.is_file():
        return [load_trajectory(path, policy)]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such file or folder")
    files = sorted((f for f in path.rglob("*") if f.suffix in (".json", ".jsonl")), key=_natural_key)
    trajectories = []
    for file in files:
        try:
            trajectories.append(load_trajectory(file, policy))
        except TrajectoryError as error:
            if skipped is None:
                raise
            skipped.append(error)
    if subset != "all":
        trajectories = [t for t in trajectories if t.meta.get("subset") == subset]
    return trajectories


def _natural_key(path: Path) -> tuple[str, int, str]:
    digits = re.sub(r"\D", "", path.stem)
    return (str(path.parent), int(digits) if digits else -1, path.name)


def _file_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise TrajectoryError(str(path), "(file)", f"UTF-8 text (byte 0x{error.object[error.start]:02x} at offset "
                                                  f"{error.start} is not UTF-8)") from None


def _parse_json(text: str, source: str, field_name: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise TrajectoryError(source, field_name, f"valid JSON ({error.msg} at line {error.lineno})") from None
    except RecursionError:
        raise TrajectoryError(source, field_name, "JSON nested less deeply (too deep for the parser)") from None


def _json_line(line: str, path: Path, number: int) -> dict[str, Any]:
    row = _parse_json(line, f"{path}:{number}", "(line)")
    if not isinstance(row, dict):
        raise TrajectoryError(f"{path}:{number}", "(line)", "one JSON object per line", row)
    return row


def _require(record: Any, key: str, kind: type, source: str, expected: str) -> Any:
    if not isinstance(record, dict):
        raise TrajectoryError(source, "(top level)", "a JSON object", record)
    value = record.get(key)
    if not isinstance(value, kind):
        raise TrajectoryError(source, key, expected, value)
    return value


def _optional_text(record: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        if record.get(key) is not None:
            return str(record[key])
    return None
