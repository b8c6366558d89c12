"""The console's words for run events: one agent-log line per event, narrow enough for 80 columns.

The headless `replay --json` prints the same lines, so they are made here once for both.
"""
from __future__ import annotations

import json
from typing import Any
from weakref import WeakKeyDictionary

from engine.events import RunEvent
from engine.runs.timeline import LogFilter, Timeline, event_agent, open_timeline

LOG_WINDOW = 200
REPLAY_LOG_LINES = 20


KIND_LABELS = {"agent_thought": "thought", "agent_action": "action", "observation": "observe",
               "tx_submitted": "tx", "tx_rejected": "rejected", "block_mined": "block", "sop_transition": "sop", "vote_cast": "vote",
               "reasoner_error": "error", "run_started": "start", "run_finished": "finish", "run_failed": "failed",
               "run_interrupted": "interrupted"}


def short_agent(agent: str) -> str:
    """`dependency_explorer` → `dependency`: unique for the seven roles, short enough for 80 columns."""
    return agent.split("_")[0]


def describe(event: RunEvent, seqs: list[int] | None = None) -> str:
    """The agent-log line of an event: `#seq agent kind what-happened`, narrow enough for 80 columns. `seqs`
    (Soft-IDG step → event number) makes an attribution speak of `#seq` like every other line."""
    kind = KIND_LABELS.get(event.kind, event.kind)
    return f"#{event.seq:<4} {short_agent(event_agent(event)):<11} {kind:<9} {_summary(event, seqs)}"


def _step(step, seqs: list[int] | None) -> str:
    return f"#{seqs[step]}" if seqs and isinstance(step, int) and 0 <= step < len(seqs) else f"step {step}"


def _summary(event: RunEvent, seqs: list[int] | None = None) -> str:
    p = event.payload
    text = {
        "agent_thought": lambda: p.get("thought", ""),
        "agent_action": lambda: (f"answer {_short_json(p.get('answer'))}" if p.get("action") == "answer"
                                 else f"{p.get('action')}({_short_json(p.get('args'))})"),
        "observation": lambda: f"{p.get('tool')} → {_short_json(p.get('result'))}",
        "tx_submitted": lambda: f"{p.get('tx_type')} {p.get('status')} tx {str(p.get('tx'))[:10]}"
                                + (f" ({p['revert_reason']})" if p.get("revert_reason") else ""),
        "tx_rejected": lambda: f"{p.get('tx_type')} rejected {p.get('code')}: {p.get('detail')}",
        "block_mined": lambda: f"block {p.get('height')} {str(p.get('hash'))[:10]} ({p.get('tx_count')} tx)",
        "sop_transition": lambda: f"{p.get('previous')} → {p.get('state')}",
        "proposal": lambda: f"root cause {p.get('root_cause')} (stake {p.get('stake')})",
        "vote_cast": lambda: f"{p.get('option')} weight {p.get('weight')}",
        "consensus": lambda: f"{p.get('outcome')} {_short_json(p.get('tally'))}",
        "reward": lambda: f"+{p.get('amount')} to {str(p.get('to'))[:10]}: {p.get('reason', '')}",
        "penalty": lambda: f"-{p.get('amount')} from {str(p.get('target'))[:10]}: {p.get('reason', '')}",
        "attribution": lambda: f"blamed {p.get('who')} at {_step(p.get('when'), seqs)}, evidence "
                               + "→".join(_step(row.get("step"), seqs) for row in p.get("evidence_path", []))
                               + (f", slashed {p['slashed']['amount']}" if p.get("slashed") else ", not slashed"),
    }.get(event.kind, lambda: _short_json(p))
    return " ".join(str(text()).split())


def _short_json(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, default=str, separators=(",", ":")) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"


_rendered: WeakKeyDictionary[Timeline, dict[int, str]] = WeakKeyDictionary()


def line_at(timeline: Timeline, position: int) -> str:
    """The log line of one event, rendered once per timeline (seeking back and forth re-reads it)."""
    lines = _rendered.setdefault(timeline, {})
    if position not in lines:
        event = timeline.events[position]
        seqs = None
        if event.kind == "attribution":
            from engine.runs.navigation import step_seqs

            seqs = step_seqs(timeline.events)  # the order the tracer read them in
        lines[position] = describe(event, seqs)
    return lines[position]


def log_lines(timeline: Timeline, cursor: int, log_filter: LogFilter = LogFilter(),
              limit: int = LOG_WINDOW) -> list[str]:
    """The last `limit` log lines at or before the cursor that pass the filter."""
    return [line_at(timeline, p) for p in timeline.log_positions(cursor, log_filter, limit)]


def replay_state(session, run_id: str, step: int | None) -> dict[str, Any]:
    """What `rca-tui replay RUN --step N --headless --json` prints: the state after N events (default: all)."""
    timeline = open_timeline(session, run_id)
    cursor = timeline.clamp(len(timeline) if step is None else step)
    return {**timeline.state(cursor), "log": log_lines(timeline, cursor, limit=REPLAY_LOG_LINES)}
