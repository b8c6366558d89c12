"""Replay: the state of a run at any event cursor, computed from its stored events (and the chain's economy
snapshots for balances).

A `Timeline` pre-indexes a run's events once (positions per kind, per agent, per proposal), so the state at any
cursor is a handful of bisects: stepping or seeking costs microseconds whatever the run's length. The live console
feeds the same `Timeline` as events arrive, so "live at the end" and "replay at the last event" are one function.
Moving the cursor never calls a reasoner; it only reads what was recorded. Turning events into log lines is the
console's job (`rca_tui.formatting`); the timeline says which events a log shows.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import chain
from typing import Any, Callable, Iterable

from engine.contracts import governance
from engine.contracts.sop import ORDER as SOP_STATES
from engine.events import RunEvent

KIND_GROUPS: dict[str, tuple[str, ...]] = {
    "thought": ("agent_thought",),
    "action": ("agent_action",),
    "observation": ("observation",),
    "chain": ("tx_submitted", "tx_rejected", "block_mined", "sop_transition", "proposal", "vote_cast",
              "consensus", "solution", "reward", "penalty"),
    "run": ("run_started", "run_finished", "run_failed", "run_interrupted", "reasoner_error", "attribution"),
}
GROUP_OF_KIND = {kind: group for group, kinds in KIND_GROUPS.items() for kind in kinds}
EconomyAt = Callable[[int | None], list[dict]]


def event_agent(event: RunEvent) -> str:
    return str(event.payload.get("agent") or "system")


@dataclass(frozen=True)
class LogFilter:
    agent: str | None = None
    group: str | None = None

    def accepts(self, event: RunEvent) -> bool:
        return ((self.agent is None or event_agent(event) == self.agent)
                and (self.group is None or GROUP_OF_KIND.get(event.kind) == self.group))


class Timeline:
    """A run's events with the indexes that make `state(cursor)` O(log n). `cursor` = events applied (0..n)."""

    def __init__(self, run_id: str, events: Iterable[RunEvent] = (), economy_at: EconomyAt | None = None):
        self.run_id = run_id
        self.events: list[RunEvent] = []
        self.by_kind: dict[str, list[int]] = {}
        self.by_agent: dict[str, list[int]] = {}
        self.votes_by_proposal: dict[str, list[int]] = {}
        self.heights: list[int] = []          # positions of events that carry a block height
        self.height_values: list[int] = []    # ... and those heights
        self.failures: list[int] = []         # reverted or rejected transactions
        self.openings: list[int] = []         # successful sop.open transactions
        self.agent_answers: dict[str, list[int]] = {}
        self.economy_at = economy_at or (lambda height: [])
        self._economy_cache: dict[int | None, list[dict]] = {}
        self._filter_cache: dict[LogFilter, list[int]] = {}
        self.extend(events)

    def __len__(self) -> int:
        return len(self.events)

    def extend(self, events: Iterable[RunEvent]) -> None:
        self._filter_cache.clear()
        for event in events:
            self._index(len(self.events), event)
            self.events.append(event)

    def _index(self, position: int, event: RunEvent) -> None:
        self.by_kind.setdefault(event.kind, []).append(position)
        self.by_agent.setdefault(event_agent(event), []).append(position)
        if event.block_height is not None:
            self.heights.append(position)
            self.height_values.append(event.block_height)
        if event.kind == "tx_rejected" or event.payload.get("status") == "reverted":
            self.failures.append(position)
        if event.kind == "tx_submitted" and event.payload.get("tx_type") == "sop.open" \
                and event.payload.get("status") == "success":
            self.openings.append(position)
        if event.kind == "vote_cast":
            self.votes_by_proposal.setdefault(event.payload.get("proposal_id"), []).append(position)
        if event.kind == "agent_action" and event.payload.get("action") == "answer":
            self.agent_answers.setdefault(event_agent(event), []).append(position)

    # ---- cursor arithmetic ------------------------------------------------------------------------------------
    def clamp(self, cursor: int) -> int:
        return max(0, min(cursor, len(self.events)))

    def cursor_for_block(self, height: int) -> int:
        """The cursor just after the last event of block `height` (or of the nearest block below it)."""
        index = bisect_right(self.height_values, height)
        return self.heights[index - 1] + 1 if index else 0

    def block_at(self, cursor: int) -> int | None:
        index = bisect_left(self.heights, cursor)
        return self.events[self.heights[index - 1]].block_height if index else None

    def neighbour_block_cursor(self, cursor: int, direction: int) -> int:
        """Cursor after the next (direction 1) or previous (-1) block's last event."""
        current = self.block_at(cursor)
        if direction > 0:
            later = bisect_left(self.heights, cursor)
            return self.cursor_for_block(self.events[self.heights[later]].block_height) if later < len(
                self.heights) else len(self.events)
        return self.cursor_for_block(current - 1) if current is not None else 0

    def _last(self, positions: list[int], cursor: int) -> RunEvent | None:
        index = bisect_left(positions, cursor)
        return self.events[positions[index - 1]] if index else None

    def _before(self, positions: list[int], cursor: int, recent: int | None = None) -> list[RunEvent]:
        """The events of `positions` before the cursor (only the last `recent` when given)."""
        end = bisect_left(positions, cursor)
        start = 0 if recent is None else max(0, end - recent)
        return [self.events[p] for p in positions[start:end]]

    # ---- the state at a cursor --------------------------------------------------------------------------------
    def state(self, cursor: int) -> dict[str, Any]:
        cursor = self.clamp(cursor)
        height = self.block_at(cursor)
        current = self.events[cursor - 1] if cursor else None
        return {"run_id": self.run_id, "cursor": cursor, "total": len(self.events), "block_height": height,
                "event": current.to_dict() if current else None, "sop": self.sop(cursor),
                "leaderboard": self.leaderboard(height), "votes": self.votes(cursor), "graph": self.graph(cursor)}

    def log_positions(self, cursor: int, log_filter: LogFilter, limit: int) -> range | list[int]:
        """Positions of the last `limit` events before the cursor that pass the filter, oldest first."""
        cursor = self.clamp(cursor)
        positions = self._filtered_positions(log_filter)
        if positions is None:
            return range(max(0, cursor - limit), cursor)
        end = bisect_left(positions, cursor)
        return positions[max(0, end - limit):end]

    def _filtered_positions(self, log_filter: LogFilter) -> list[int] | None:
        if log_filter.agent is None and log_filter.group is None:
            return None
        if log_filter not in self._filter_cache:
            self._filter_cache[log_filter] = self._positions_passing(log_filter)
        return self._filter_cache[log_filter]

    def _positions_passing(self, log_filter: LogFilter) -> list[int]:
        """Read from the indexes (copied in C), not event by event, unless both an agent and a group are asked for:
        a key that changes the filter of a long run costs milliseconds."""
        if log_filter.agent is None:
            kinds = KIND_GROUPS.get(log_filter.group, ())
            return sorted(chain.from_iterable(self.by_kind.get(kind, ()) for kind in kinds))
        if log_filter.group is None:
            return list(self.by_agent.get(log_filter.agent, ()))
        return [p for p in self.by_agent.get(log_filter.agent, []) if log_filter.accepts(self.events[p])]

    def sop(self, cursor: int, recent: int | None = None) -> dict[str, Any]:
        """The SOP state at the cursor with its transitions and reverted / refused txs: all of them, or the last
        `recent` of each (what a diagram shows; a flood's thousands of reverts are not rebuilt every frame)."""
        transitions = [{"from": e.payload.get("previous"), "to": e.payload.get("state"), "height": e.block_height,
                        "seq": e.seq} for e in self._before(self.by_kind.get("sop_transition", []), cursor, recent)]
        reverts = [{"seq": e.seq, "height": e.block_height, "agent": event_agent(e), "tx_type": e.payload.get("tx_type"),
                    "reason": e.payload.get("revert_reason") or e.payload.get("detail")}
                   for e in self._before(self.failures, cursor, recent)]
        opened = self._last(self.openings, cursor) is not None
        state = transitions[-1]["to"] if transitions else ("Init" if opened else None)
        return {"state": state, "states": SOP_STATES, "history": transitions, "reverts": reverts}

    def votes(self, cursor: int) -> dict[str, Any] | None:
        proposal = self._last(self.by_kind.get("proposal", []), cursor)
        if proposal is None:
            return None
        proposal_id = proposal.payload.get("proposal_id")
        ballots = self._before(self.votes_by_proposal.get(proposal_id, []), cursor)
        totals = {option: 0.0 for option in governance.OPTIONS}
        for ballot in ballots:
            totals[ballot.payload.get("option")] = totals.get(ballot.payload.get("option"), 0.0) + float(
                ballot.payload.get("weight", 0))
        closed = next((e for e in self._before(self.by_kind.get("consensus", []), cursor)
                       if e.payload.get("proposal_id") == proposal_id), None)
        return {"proposal_id": proposal_id, "root_cause": proposal.payload.get("root_cause"),
                "proposer": event_agent(proposal), **{k: round(v, 6) for k, v in totals.items()},
                "voters": [{"agent": event_agent(b), "option": b.payload.get("option"),
                            "weight": b.payload.get("weight")} for b in ballots],
                "outcome": closed.payload.get("outcome") if closed else "open"}

    def graph(self, cursor: int) -> dict[str, Any]:
        candidates = self._answer("probability_oracle", cursor).get("candidates", [])
        web = self._answer("fault_mapper", cursor).get("fault_web", {})
        root = self._agreed_root_cause(cursor)
        return {"kind": "fault_web", "run_id": self.run_id, "candidates": candidates, "fault_web": web,
                "root_cause": root, "path": web.get(root, [root] if root else []),
                "attribution": self.attribution(cursor), "next_attribution_at": self.next_attribution_at(cursor)}

    def attribution(self, cursor: int) -> dict | None:
        """The latest `attribution` event's payload at or before the cursor (who / when, evidence path, Soft-IDG)."""
        event = self._last(self.by_kind.get("attribution", []), cursor)
        return event.payload if event else None

    def next_attribution_at(self, cursor: int) -> int | None:
        """The cursor at which the next attribution becomes visible (replay: the run has one further on)."""
        positions = self.by_kind.get("attribution", [])
        index = bisect_left(positions, cursor)
        return positions[index] + 1 if index < len(positions) else None

    def _answer(self, agent: str, cursor: int) -> dict:
        event = self._last(self.agent_answers.get(agent, []), cursor)
        return (event.payload.get("answer") or {}) if event else {}

    def _agreed_root_cause(self, cursor: int) -> str | None:
        finished = self._last(self.by_kind.get("run_finished", []), cursor)
        if finished is not None:
            return finished.payload.get("root_cause")
        passed = next((e for e in reversed(self._before(self.by_kind.get("consensus", []), cursor))
                       if e.payload.get("outcome") == "passed"), None)
        if passed is None:
            return None
        proposal = next((e for e in self._before(self.by_kind.get("proposal", []), cursor)
                         if e.payload.get("proposal_id") == passed.payload.get("proposal_id")), None)
        return proposal.payload.get("root_cause") if proposal else None

    def leaderboard(self, height: int | None) -> list[dict]:
        if height not in self._economy_cache:
            self._economy_cache[height] = self.economy_at(height)
        return self._economy_cache[height]

    def forget_economy(self) -> None:
        """Live runs: the chain moved on, read balances again."""
        self._economy_cache.clear()


def open_timeline(session, run_id: str) -> Timeline:
    """A stored run, indexed, with the balances saved with every block it mined (read now: the timeline
    outlives the session)."""
    events = session.run_events(run_id)
    history = session.economy_history(e.block_height for e in events if e.block_height is not None)
    return Timeline(run_id, events, lambda height: history.get(height, []))
