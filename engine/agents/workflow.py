"""One incident, end to end: seven agents investigate with Direct / ReAct steps over the tools, propose and vote
on chain, and the Solution Engineer files the repair. Every thought, action and observation is a run event."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

from engine.agents import council
from engine.agents.council import Ballot, ProposalRecord
from engine.agents.dao import ChainActionFailed, DaoExecutor, Wallets
from engine.agents.roles import ROLE_BY_KEY, ROLES
from engine.agents.tools import Toolbox, ToolError
from engine.chain.config import TEXT_MAX_CHARS
from engine.contracts import sop
from engine.events import EventLog
from engine.ledger.chain import Chain
from engine.reasoners.base import (
    Observation, Reasoner, ReasonerError, StepRequest, VoteRequest,
)
from engine.reasoners.heuristic import planned_fault_type
from engine.telemetry.model import Incident

MAX_STEPS = 20
MAX_ROUNDS = 3
INVESTIGATORS = ("alert_receiver", "process_scheduler", "data_detective", "dependency_explorer",
                 "probability_oracle", "fault_mapper")
EVIDENCE_ROLES = ("data_detective", "dependency_explorer", "fault_mapper")
PROPOSER = "probability_oracle"


class RunHost(Protocol):
    """What a workflow needs from the session it runs in (`engine.runs.session.Session` is one)."""

    chain: Chain
    wallets: Wallets
    events: EventLog

    def create_run(self, incident: str, dataset: str | None, reasoner: str, seed: int) -> str: ...

    def finish_run(self, run_id: str, status: str, result: dict) -> None: ...


class RunFailed(RuntimeError):
    """The run stopped (reasoner or ledger refused); the chain holds every block mined before the stop."""


@dataclass
class AgentMemory:
    history: list[tuple[str, Observation]]
    answer: dict[str, Any]


class Workflow:
    def __init__(self, session: RunHost, reasoner: Reasoner, settle_with_label: bool = True,
                 fallback: Reasoner | None = None):
        """`fallback` answers a step or vote the reasoner could not (the error is recorded as an event);
        without one, a reasoner error stops the run."""
        self.session, self.reasoner, self.settle_with_label = session, reasoner, settle_with_label
        self.fallback = fallback

    def run(self, incident: Incident, dataset: str | None = None, seed: int = 0,
            toolbox: Toolbox | None = None) -> dict:
        run_id = self.session.create_run(incident.case_id, dataset, self.reasoner.name, seed)
        started = time.perf_counter()
        toolbox = toolbox or Toolbox(incident)
        try:
            result = _Run(self, run_id, incident, toolbox).perform()
        except (ReasonerError, ChainActionFailed) as exc:
            self._fail(run_id, str(exc))
            raise RunFailed(f"run {run_id} on {incident.case_id} stopped: {exc}") from exc
        except Exception as exc:  # a bug still ends the run as failed, never left `running`
            self._fail(run_id, f"{type(exc).__name__}: {exc}")
            raise
        result["seconds"] = round(time.perf_counter() - started, 3)
        result["warnings"] = toolbox.in_sample_warnings
        result["ranker"] = toolbox.ranker
        self.session.events.append(run_id, "run_finished", {"root_cause": result["root_cause"],
                                                            "status": result["status"]})
        self.session.finish_run(run_id, result["status"], result)
        return result

    def _fail(self, run_id: str, error: str) -> None:
        self.session.events.append(run_id, "run_failed", {"error": error})
        self.session.finish_run(run_id, "failed", {"error": error})


class _Run:
    def __init__(self, workflow: Workflow, run_id: str, incident: Incident, toolbox: Toolbox):
        self.session, self.reasoner, self.fallback = workflow.session, workflow.reasoner, workflow.fallback
        self.settle_with_label = workflow.settle_with_label
        self.run_id, self.incident = run_id, incident
        self.chain_incident = sop.incident_key(incident.case_id, run_id)
        self.dao = DaoExecutor(self.session.chain, self.session.wallets, self.session.events, run_id)
        self.toolbox = toolbox
        self.memory: dict[str, AgentMemory] = {}
        self.alert = _alert_dict(incident)

    def emit(self, kind: str, payload: dict) -> None:
        self.session.events.append(self.run_id, kind, payload)

    def perform(self) -> dict:
        self.emit("run_started", {"incident": self.incident.case_id, "system": self.incident.system,
                                  "alert": self.alert, "entities": len(self.incident.entities),
                                  "missing": self.incident.missing, "reasoner": self.reasoner.name,
                                  "warnings": self.toolbox.in_sample_warnings, "ranker": self.toolbox.ranker})
        council.fund_gas(self.dao)
        council.top_up_stakes(self.dao)
        for role in INVESTIGATORS:
            self.memory[role] = self.investigate(role)
            self.record_on_chain(role)
        proposals = self.propose_until_consensus()
        consensus = next((p for p in proposals if p.outcome == "passed"), None)
        solution = self.solve(consensus) if consensus else None
        truth = self.incident.label.root_cause if (self.settle_with_label and self.incident.label) else None
        council.settle(self.dao, proposals, truth)
        return self.result(proposals, consensus, solution)

    # ---- Direct / ReAct ------------------------------------------------------------------------------------
    def investigate(self, role: str) -> AgentMemory:
        history: list[tuple[str, Observation]] = []
        for step in range(MAX_STEPS):
            decision = self.ask("next_step", role, self.request(role, history, step))
            self.emit("agent_thought", {"agent": role, "step": step, "thought": decision.thought})
            if decision.is_final:
                self.emit("agent_action", {"agent": role, "step": step, "action": "answer",
                                           "answer": decision.answer})
                return AgentMemory(history, decision.answer)
            self.emit("agent_action", {"agent": role, "step": step, "action": decision.tool, "args": decision.args})
            try:
                result = self.toolbox.call(decision.tool, decision.args)
            except ToolError as exc:
                result = {"error": str(exc)}
            self.emit("observation", {"agent": role, "step": step, "tool": decision.tool, "result": result})
            history.append((decision.thought, Observation(decision.tool, decision.args, result)))
        raise ReasonerError(f"{ROLE_BY_KEY[role].title} did not answer within {MAX_STEPS} steps")

    def ask(self, method: str, role: str, request):
        try:
            return getattr(self.reasoner, method)(request)
        except ReasonerError as exc:
            self.emit("reasoner_error", {"agent": role, "call": method, "error": str(exc),
                                         "fallback": self.fallback.name if self.fallback else None})
            if self.fallback is None:
                raise
            return getattr(self.fallback, method)(request)

    def request(self, role: str, history, step: int) -> StepRequest:
        return StepRequest(role=role, duty=ROLE_BY_KEY[role].duty, task=f"Find the root cause of: "
                           f"{self.alert['description']}", alert=self.alert, entities=list(self.incident.entities),
                           tools=self.toolbox.specs, history=history, shared=self.shared(), step=step,
                           max_steps=MAX_STEPS)

    def shared(self) -> dict[str, Any]:
        return {role: memory.answer for role, memory in self.memory.items()}

    # ---- chain ---------------------------------------------------------------------------------------------
    def record_on_chain(self, role: str) -> None:
        answer = self.memory[role].answer
        if role == "alert_receiver":
            council.open_incident(self.dao, role, self.chain_incident, self.alert)
        elif role in EVIDENCE_ROLES:
            evidence = {"answer": answer, "observations": [obs.result for _, obs in self.memory[role].history]}
            council.collect(self.dao, role, self.chain_incident, evidence, _summary(answer))

    def propose_until_consensus(self) -> list[ProposalRecord]:
        candidates = self.memory[PROPOSER].answer.get("candidates", [])
        proposals = []
        for candidate in candidates[:MAX_ROUNDS]:
            record = council.propose(self.dao, PROPOSER, self.chain_incident, candidate["entity"],
                                     candidate.get("reason", ""), [c["entity"] for c in candidates])
            proposals.append(record)
            self.collect_votes(record)
            if record.outcome == "passed":
                break
        return proposals

    def collect_votes(self, record: ProposalRecord) -> None:
        for role in (r.key for r in ROLES):
            if record.outcome != "open":
                return
            memory = self.memory.get(role, AgentMemory([], {}))
            decision = self.ask("vote", role, VoteRequest(role, {"root_cause": record.root_cause,
                                                                 "reason": record.reason,
                                                                 "proposer": record.proposer},
                                                          memory.history, self.shared()))
            council.vote(self.dao, record, Ballot(role, decision.option, decision.reason))
        if record.outcome == "open":
            self.expire(record)

    def expire(self, record: ProposalRecord) -> None:
        """Thresholds not met with every vote in: let the deadline pass and close it as expired."""
        deadline = self.session.chain.state.storage_get("governance", f"proposal:{record.proposal_id}")[
            "deadline_height"]
        while self.session.chain.height <= deadline:
            self.session.chain.mine(allow_empty=True)
        self.dao.act(PROPOSER, "gov.finalize", {"proposal_id": record.proposal_id})
        record.outcome = "expired"

    def solve(self, consensus: ProposalRecord):
        self.memory["consensus"] = AgentMemory([], {"root_cause": consensus.root_cause,
                                                    "proposal_id": consensus.proposal_id})
        memory = self.investigate("solution_engineer")
        self.memory["solution_engineer"] = memory
        steps = memory.answer.get("repair_steps", [])
        return council.submit_solution(self.dao, "solution_engineer", self.chain_incident, consensus.proposal_id,
                                       steps, f"{len(steps)} repair steps for {consensus.root_cause}")

    # ---- result --------------------------------------------------------------------------------------------
    def result(self, proposals: list[ProposalRecord], consensus: ProposalRecord | None, solution) -> dict:
        candidates = self.memory[PROPOSER].answer.get("candidates", [])
        root = consensus.root_cause if consensus else None
        ranked = ([root] if root else []) + [c["entity"] for c in candidates if c["entity"] != root]
        reason = next((c.get("reason", "") for c in candidates if c["entity"] == root), "")
        web = self.memory["fault_mapper"].answer.get("fault_web", {})
        engineer = self.memory.get("solution_engineer", AgentMemory([], {}))
        return {
            "run_id": self.run_id, "incident": self.incident.case_id, "system": self.incident.system,
            "status": "finished" if consensus else "no_consensus",
            "root_cause": root, "ranking": ranked, "candidates": candidates, "reason": reason,
            "propagation_path": web.get(root, [root] if root else []),
            "repair_steps": engineer.answer.get("repair_steps", []),
            "fault_type": planned_fault_type([obs for _, obs in engineer.history]),
            "proposals": [p.to_dict() for p in proposals],
            "consensus": ({"proposal_id": consensus.proposal_id, "tally": consensus.tally,
                           "block": consensus.ballots[-1][1].block.height, "tx": consensus.ballots[-1][1].tx.hash}
                          if consensus else None),
            "solution": solution.ref() if solution else None,
            "label": ({"root_cause": self.incident.label.root_cause, "fault_type": self.incident.label.fault_type}
                      if self.incident.label else None),
            "missing": self.incident.missing,
        }


def _alert_dict(incident: Incident) -> dict:
    alert = incident.alert
    return {"entity": alert.entity, "signal": alert.signal, "time": alert.time,
            "time_text": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(alert.time)),
            "description": alert.description}


def _summary(answer: dict) -> str:
    return str(answer.get("summary") or answer)[:TEXT_MAX_CHARS]
