"""Where to go from an event of a run: the tx it led to, the event where consensus was reached, the Soft-IDG step of
an event and back. Plain functions over a `Timeline`; the console's keys call them."""
from __future__ import annotations

from engine.events import RunEvent
from engine.runs.timeline import Timeline, event_agent
from engine.runs.trajectory import trajectory_steps

AGENT_STEP_KINDS = ("agent_thought", "agent_action", "observation")


def event_tx(timeline: Timeline, position: int) -> str | None:
    """The tx an event is about, or the one it led to: its own `tx`; else, for an agent's step, the first tx that
    agent submitted after it, before another agent took a step."""
    events = timeline.events
    event = events[position]
    if event.payload.get("tx"):
        return str(event.payload["tx"])
    if event.kind not in AGENT_STEP_KINDS:  # a contract event (vote, consensus, reward...): the tx that emitted it
        if event.block_height is None:
            return None
        for earlier in reversed(events[:position]):
            if earlier.block_height != event.block_height:
                return None
            if earlier.kind == "tx_submitted" and earlier.payload.get("tx"):
                return str(earlier.payload["tx"])
        return None
    agent = event_agent(event)
    for later in events[position + 1:]:
        if later.kind == "tx_submitted" and event_agent(later) == agent and later.payload.get("tx"):
            return str(later.payload["tx"])
        if later.kind in AGENT_STEP_KINDS and event_agent(later) != agent:
            return None
    return None


def consensus_cursor(timeline: Timeline) -> int | None:
    """The cursor just after the (last passed, else last) consensus event: the state the vote produced."""
    positions = timeline.by_kind.get("consensus", [])
    passed = [p for p in positions if timeline.events[p].payload.get("outcome") == "passed"]
    chosen = (passed or positions)
    return chosen[-1] + 1 if chosen else None


def step_seqs(events: list[RunEvent]) -> list[int]:
    """Soft-IDG step index → the event number (`#seq`) the agent log and Replay show for it."""
    return [step["event_seq"] for step in trajectory_steps(events)]
