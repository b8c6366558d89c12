"""A run's events as a multi-agent trajectory (one step per thought, action, observation or vote), the shape the
attribution tracer reads; and, for fault-injected runs, which step is the injected fault."""
from __future__ import annotations

import json

from engine.events import RunEvent

STEP_KINDS = {"agent_thought": "thought", "agent_action": "action", "observation": "observation"}
VOTE_TX = ("gov.vote", "gov.propose")


def trajectory_steps(events: list[RunEvent]) -> list[dict]:
    """Steps in order: {agent, kind, content, event_seq}."""
    steps = []
    for event in events:
        payload = event.payload
        if event.kind in STEP_KINDS:
            steps.append({"agent": payload["agent"], "kind": STEP_KINDS[event.kind],
                          "content": _content(event.kind, payload), "event_seq": event.seq})
        elif event.kind == "tx_submitted" and payload["tx_type"] in VOTE_TX:
            steps.append({"agent": payload["agent"], "kind": "tx", "content": _tx_content(payload),
                          "event_seq": event.seq})
    return steps


def fault_step_index(steps: list[dict], events: list[RunEvent], agent: str, mode: str,
                     struck_at: int | None) -> int | None:
    """Index (in `steps`) of the step where the injected fault took effect."""
    by_seq = {event.seq: event for event in events}
    for index, step in enumerate(steps):
        event = by_seq[step["event_seq"]]
        if step["agent"] != agent:
            continue
        if mode == "vote_against" and step["kind"] == "tx" and event.payload["tx_type"] == "gov.vote":
            return index
        if mode != "vote_against" and event.kind == "agent_action" and event.payload["step"] == struck_at:
            return index
    return None


def _content(kind: str, payload: dict) -> str:
    if kind == "agent_thought":
        return payload["thought"]
    if kind == "agent_action":
        if payload["action"] == "answer":
            return "Answer: " + json.dumps(payload["answer"], default=str)[:1500]
        return f"Action: {payload['action']}({json.dumps(payload.get('args', {}))})"
    return f"Observation from {payload['tool']}: " + json.dumps(payload["result"], default=str)[:1500]


def _tx_content(payload: dict) -> str:
    body = payload["payload"]
    if payload["tx_type"] == "gov.vote":
        return f"Vote {body['option']}: {body.get('reason', '')}"
    return f"Propose {body['root_cause']}: {body.get('reason', '')}"
