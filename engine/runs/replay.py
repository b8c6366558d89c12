"""Replay: the state of a run at any event cursor, computed from its stored events (and the chain for balances).

A `Timeline` pre-indexes a run's events once (positions per kind, per agent, per proposal), so the state at any
cursor is a handful of bisects: stepping or seeking costs microseconds whatever the run's length. The live console
feeds the same `Timeline` as events arrive, so "live at the end" and "replay at the last event" are one function.
Moving the cursor never calls a reasoner; it only reads what was recorded.
"""
from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import networkx as nx

from engine.agents.roles import ROLES
from engine.chain.ledger import apply_genesis, load_config, load_genesis, tx_from_row
from engine.chain.state import WorldState
from engine.chain.vm import execute
from engine.contracts import governance
from engine.contracts.sop import ORDER as SOP_STATES
from engine.contracts.token import locked_stake
from engine.runs.events import RunEvent
from engine.store.db import open_db, transaction

AGENT_KEYS = tuple(role.key for role in ROLES)
KIND_GROUPS: dict[str, tuple[str, ...]] = {
    "thought": ("agent_thought",),
    "action": ("agent_action",),
    "observation": ("observation",),
    "chain": ("tx_submitted", "tx_rejected", "block_mined", "sop_transition", "proposal", "vote_cast",
              "consensus", "solution", "reward", "penalty"),
    "run": ("run_started", "run_finished", "run_failed", "reasoner_error", "attribution"),
}
GROUP_OF_KIND = {kind: group for group, kinds in KIND_GROUPS.items() for kind in kinds}
LOG_WINDOW = 200
EconomyAt = Callable[[int | None], list[dict]]


# ---- one line per event ----------------------------------------------------------------------------------------
def event_agent(event: RunEvent) -> str:
    return str(event.payload.get("agent") or "system")


KIND_LABELS = {"agent_thought": "thought", "agent_action": "action", "observation": "observe",
               "tx_submitted": "tx", "tx_rejected": "rejected", "block_mined": "block", "sop_transition": "sop", "vote_cast": "vote",
               "reasoner_error": "error", "run_started": "start", "run_finished": "finish", "run_failed": "failed"}


def short_agent(agent: str) -> str:
    """`dependency_explorer` → `dependency`: unique for the seven roles, short enough for 80 columns."""
    return agent.split("_")[0]


def describe(event: RunEvent) -> str:
    """The agent-log line of an event: `#seq agent kind what-happened`, narrow enough for 80 columns."""
    kind = KIND_LABELS.get(event.kind, event.kind)
    return f"#{event.seq:<4} {short_agent(event_agent(event)):<11} {kind:<9} {_summary(event)}"


def _summary(event: RunEvent) -> str:
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
        "attribution": lambda: f"blamed {p.get('who')} at step {p.get('when')}, evidence "
                               + "→".join(str(row.get("step")) for row in p.get("evidence_path", []))
                               + (f", slashed {p['slashed']['amount']}" if p.get("slashed") else ", not slashed"),
    }.get(event.kind, lambda: _short_json(p))
    return " ".join(str(text()).split())


def _short_json(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, default=str, separators=(",", ":")) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- the index ---------------------------------------------------------------------------------------------------
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
        self.lines: list[str] = []
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
            self.lines.append(describe(event))

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

    def _before(self, positions: list[int], cursor: int) -> list[RunEvent]:
        return [self.events[p] for p in positions[:bisect_left(positions, cursor)]]

    # ---- the state at a cursor --------------------------------------------------------------------------------
    def state(self, cursor: int, log_filter: LogFilter = LogFilter(), log_lines: int = 20) -> dict[str, Any]:
        cursor = self.clamp(cursor)
        height = self.block_at(cursor)
        current = self.events[cursor - 1] if cursor else None
        return {"run_id": self.run_id, "cursor": cursor, "total": len(self.events), "block_height": height,
                "event": current.to_dict() if current else None, "sop": self.sop(cursor),
                "leaderboard": self.leaderboard(height), "votes": self.votes(cursor), "graph": self.graph(cursor),
                "log": self.log(cursor, log_filter, log_lines)}

    def log(self, cursor: int, log_filter: LogFilter = LogFilter(), limit: int = LOG_WINDOW) -> list[str]:
        """The last `limit` log lines at or before the cursor that pass the filter."""
        positions = self._filtered_positions(log_filter)
        end = bisect_left(positions, cursor) if positions is not None else cursor
        if positions is None:
            return self.lines[max(0, end - limit):end]
        return [self.lines[p] for p in positions[max(0, end - limit):end]]

    def _filtered_positions(self, log_filter: LogFilter) -> list[int] | None:
        if log_filter.agent is None and log_filter.group is None:
            return None
        if log_filter not in self._filter_cache:
            self._filter_cache[log_filter] = self._positions_passing(log_filter)
        return self._filter_cache[log_filter]

    def _positions_passing(self, log_filter: LogFilter) -> list[int]:
        kinds = KIND_GROUPS.get(log_filter.group, ()) if log_filter.group else None
        if kinds is not None and log_filter.agent is None:
            return sorted(p for kind in kinds for p in self.by_kind.get(kind, []))
        return [p for p in self.by_agent.get(log_filter.agent, []) if log_filter.accepts(self.events[p])]

    def sop(self, cursor: int) -> dict[str, Any]:
        transitions = [{"from": e.payload.get("previous"), "to": e.payload.get("state"), "height": e.block_height,
                        "seq": e.seq} for e in self._before(self.by_kind.get("sop_transition", []), cursor)]
        reverts = [{"seq": e.seq, "height": e.block_height, "agent": event_agent(e), "tx_type": e.payload.get("tx_type"),
                    "reason": e.payload.get("revert_reason") or e.payload.get("detail")}
                   for e in self._before(self.failures, cursor)]
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


# ---- the fault web as a graph -------------------------------------------------------------------------------------
def fault_graph(graph_state: dict[str, Any]) -> nx.DiGraph:
    """Nodes carry `score`, `reason`, `root`, `on_path`; edges carry `on_path`. Any other graph kind (the
    attribution Soft-IDG) can be drawn by the same view if it sets the same attributes."""
    graph = nx.DiGraph(kind=graph_state.get("kind", "fault_web"), path=list(graph_state.get("path") or []))
    for candidate in graph_state.get("candidates", []):
        graph.add_node(candidate["entity"], score=float(candidate.get("score", 0.0)),
                       reason=candidate.get("reason", ""))
    for path in graph_state.get("fault_web", {}).values():
        for source, target in zip(path, path[1:]):
            graph.add_edge(source, target)
    path = graph.graph["path"]
    on_path_edges = set(zip(path, path[1:]))
    for node, data in graph.nodes(data=True):
        data.setdefault("score", 0.0)
        data.setdefault("reason", "")
        data["root"] = node == graph_state.get("root_cause")
        data["on_path"] = node in path
    for source, target, data in graph.edges(data=True):
        data["on_path"] = (source, target) in on_path_edges
    return graph


def step_node(step: int, agent: str | None) -> str:
    """A Soft-IDG node's name: `#12 data_detective`."""
    return f"#{step} {agent or '?'}"


def soft_idg_graph(attribution: dict[str, Any] | None) -> nx.DiGraph:
    """An `attribution` event's payload as `fault_graph` shapes a graph (kind "soft_idg"): one node per step,
    named by `step_node`, with `step`, `agent`, `kind`, `score`, `reason` (the step's text), `root` (the blamed
    step), `on_path` (the evidence path), `failure` (where the failure shows), `label` (the injected fault's step);
    edges carry `weight` (None for an evidence-path hop outside the stored top in-edges) and `on_path`. The graph
    keeps `who`, `when`, `tx`, `slashed`, `consensus_wrong` and `label`. Empty without an attribution."""
    from engine.runs.attribution import event_view

    payload = attribution or {}
    label = payload.get("label") or {}
    graph = nx.DiGraph(kind="soft_idg", who=payload.get("who"), when=payload.get("when"), tx=payload.get("tx"),
                       slashed=payload.get("slashed"), consensus_wrong=payload.get("consensus_wrong"),
                       label=payload.get("label"), path=[])
    if not payload:
        return graph
    view = event_view(payload)
    names = {node.step: step_node(node.step, node.agent) for node in view.nodes}
    for node in view.nodes:
        graph.add_node(names[node.step], step=node.step, agent=node.agent, kind=node.kind,
                       score=float(node.score) if node.score is not None else 0.0, scored=node.score is not None,
                       reason=node.text, root=node.step == view.when, on_path=node.step in view.evidence_path,
                       failure=node.step in view.failure_steps, label=node.step == label.get("when"))
    for source, target, weight in view.edges():
        if source in names and target in names:
            graph.add_edge(names[source], names[target], weight=weight, on_path=False)
    path = [names[step] for step in view.evidence_path]
    for source, target in zip(path, path[1:]):
        if not graph.has_edge(source, target):
            graph.add_edge(source, target, weight=None)
        graph.edges[source, target]["on_path"] = True
    graph.graph["path"] = path
    return graph


# ---- balances at a block height (re-executed from genesis, once) -----------------------------------------------
def economy_history(conn, wallets, heights: Iterable[int]) -> dict[int, list[dict]]:
    """The agents' leaderboard rows after each block in `heights`, by re-executing the chain on a shadow state."""
    wanted = sorted(set(heights))
    genesis = load_genesis(conn)
    if not wanted or genesis is None:
        return {}
    shadow = WorldState(open_db(":memory:"))
    config = load_config(conn)
    snapshots: dict[int, list[dict]] = {}
    with transaction(shadow.conn):
        apply_genesis(shadow, genesis)
        rows = conn.execute("SELECT b.height AS block_at, b.timestamp AS block_ts, t.* FROM blocks b LEFT JOIN transactions t"
                            " ON t.block_height = b.height WHERE b.height <= ? ORDER BY b.height, t.position",
                            (wanted[-1],))
        _replay_blocks(rows, shadow, config, set(wanted), lambda h: snapshots.__setitem__(
            h, economy_rows(shadow, wallets)))
    return snapshots


def _replay_blocks(rows, shadow: WorldState, config, wanted: set[int], snapshot: Callable[[int], None]) -> None:
    current = None
    for row in rows:
        height = row[0]
        if current is not None and height != current and current in wanted:
            snapshot(current)
        current = height
        if row["hash"] is not None:
            execute(shadow, config, tx_from_row(row), height, row[1])
    if current in wanted:
        snapshot(current)


def economy_rows(state: WorldState, wallets) -> list[dict]:
    """Leaderboard rows of the seven agents in a world state (the same fields as `Session.economy`)."""
    rows = []
    for name in AGENT_KEYS:
        account = state.get_account(wallets.address(name))
        rows.append({"agent": name, "balance": account.balance, "stake": account.stake,
                     "locked": locked_stake(state, account.address), "reputation": account.reputation,
                     "vote_weight": governance.vote_weight(account)})
    return rows


def history_lookup(snapshots: dict[int, list[dict]]) -> EconomyAt:
    """Rows at the nearest snapshotted height at or below the asked one."""
    heights = sorted(snapshots)

    def at(height: int | None) -> list[dict]:
        index = bisect_right(heights, height) if height is not None else 0
        return snapshots[heights[index - 1]] if index else []
    return at


def open_timeline(session, run_id: str) -> Timeline:
    """A stored run, indexed, with balances at every block it mined."""
    events = session.run_events(run_id)
    heights = [e.block_height for e in events if e.block_height is not None]
    snapshots = economy_history(session.conn, session.wallets, heights)
    return Timeline(run_id, events, history_lookup(snapshots))


def state_at_step(session, run_id: str, step: int | None) -> dict[str, Any]:
    """What `rca-tui replay RUN --step N --headless --json` prints: the state after N events (default: all)."""
    timeline = open_timeline(session, run_id)
    return timeline.state(len(timeline) if step is None else step)
