"""Closing the loop on our own agents: an engine run -> a trajectory -> who / when -> an on-chain slash.

* :func:`run_trajectory` turns a stored run into a :class:`Trajectory`; when the run carries an injected fault
  (``result["injected_fault"]``) and its consensus was wrong (result root cause != label root cause, no consensus
  included), the trajectory is labelled with the injected agent and step.
* :func:`attribute_run` traces it (rule tracer, or a learned tracer).
* :func:`slash_culprit` has the DAO authority slash the named agent when the run is known to be wrong, with the
  evidence path in the slash transaction's payload, and records an ``attribution`` run event for the console.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from engine.agents.council import slash
from engine.agents.dao import DaoExecutor
from engine.agents.roles import ROLE_BY_KEY
from engine.attribution.adapters import from_engine_steps
from engine.attribution.analysis import rule_scorer
from engine.attribution.learned import LearnedConfig, LearnedTracer, load, step_scorer
from engine.attribution.node_features import PREVIOUS_DEFAULT_GROUPS
from engine.attribution.pipeline import Attribution, AttributionConfig, trace
from engine.attribution.schema import Label, Trajectory, validate
from engine.attribution.slm import DEFAULT_MODEL
from engine.attribution.view import SoftIdgView, StepNode, soft_idg_view
from engine.config import ENGINE_RUNS_TRACER
from engine.runs.trajectory import trajectory_steps

ATTRIBUTION_SLASH = 200
"""Stake taken from the agent the tracer names (as much as a wrong proposer loses)."""
ATTRIBUTION_REPUTATION = 5
STEP_TEXT = 160
"""Characters of each step's text kept in the slash payload and the attribution event."""


ENGINE_RUN_TOKENS = 1024
"""The SLM window of an engine run: at 12 tokens a step it holds 80 steps, every agent step of the study's
longest runs (86 steps, a third of them tool output). At 640 tokens (49 steps) the runs of 70 steps and more lost
their middle agent steps, the Probability Oracle's answer among them: 17 of 80 labelled faulty steps of the
session-10 studies could not be named at all."""


def engine_run_config(config: AttributionConfig = AttributionConfig()) -> AttributionConfig:
    """Engine runs carry long JSON tool outputs that are never a culprit: when the steps do not all fit the SLM's
    window (:data:`ENGINE_RUN_TOKENS`), tool output is dropped before any agent step, and every agent step keeps a
    place (12 tokens at least), since the faulty one sits anywhere in a run of 60 steps. One pass, no
    counterfactual test: the layout the shipped engine-runs tracer was trained on (so it overrides the given
    window and layout)."""
    return replace(config, features=replace(config.features, history_sample="agents_first", min_step_tokens=12,
                                            chunked=False, max_tokens=ENGINE_RUN_TOKENS),
                   counterfactual=replace(config.counterfactual, top_n=0))


ENGINE_RUN_LEARNED = LearnedConfig(groups=PREVIOUS_DEFAULT_GROUPS + ("grounding",))
"""The learned tracer of engine runs: the default feature groups and the grounding audit of the run's own
transcript (readings an agent reports against what its tools showed), which engine runs have and Who&When lacks."""


class RunNotFound(KeyError):
    """No run with that id in this session's database."""


def consensus_wrong(result: dict | None) -> bool | None:
    """True when the label is known and the consensus missed it (no consensus counts as wrong); None if unknown."""
    if not result or not result.get("label") or not result["label"].get("root_cause"):
        return None
    return result.get("root_cause") != result["label"]["root_cause"]


def injected_label(result: dict | None) -> Label | None:
    """who / when of the injected fault, for a run whose consensus went wrong; else None."""
    fault = (result or {}).get("injected_fault")
    if not fault or fault.get("trajectory_step") is None or not consensus_wrong(result):
        return None
    return Label(who=fault["agent"], when=int(fault["trajectory_step"]),
                 reason=f"injected {fault['mode']} at {fault['agent']}'s step {fault.get('agent_step')} "
                        f"(decoy {fault.get('decoy')})")


def run_result(session, run_id: str) -> dict:
    run = session.run(run_id)
    if run is None:
        raise RunNotFound(f"no run {run_id!r} in {session.db_path}")
    return run.get("result") or {}


def run_trajectory(session, run_id: str, injected_fault: dict | None = None) -> Trajectory:
    """The run's steps (thoughts, actions, observations, votes) as a trajectory, labelled when the run's
    injected fault made the consensus go wrong. ``injected_fault`` overrides the stored one."""
    result = dict(run_result(session, run_id))
    if injected_fault is not None:
        result["injected_fault"] = injected_fault
    events = session.run_events(run_id)
    steps = trajectory_steps(events)
    trajectory = from_engine_steps(steps, run_id, _query(session.run(run_id), events))
    meta = {**trajectory.meta, "incident": result.get("incident"), "system": result.get("system"),
            "root_cause": result.get("root_cause"), "label_root_cause": (result.get("label") or {}).get("root_cause"),
            "injected_fault": result.get("injected_fault"), "event_seqs": [s["event_seq"] for s in steps]}
    return validate(replace(trajectory, label=injected_label(result), meta=meta))


def attribute_run(session, run_id: str, model_name: str = DEFAULT_MODEL, learned: LearnedTracer | None = None,
                  config: AttributionConfig | None = None, trajectory: Trajectory | None = None) -> Attribution:
    """Who (which agent) and when (which step) made this run go wrong; ``learned`` defaults to the shipped tracer
    (:data:`ENGINE_RUNS_TRACER`), the rule tracer where there is none."""
    tracer = learned if learned is not None else shipped_tracer()
    scorer = step_scorer(tracer) if tracer else rule_scorer
    return trace(trajectory or run_trajectory(session, run_id), model_name, config or engine_run_config(), scorer)


def shipped_tracer_path() -> Path | None:
    return ENGINE_RUNS_TRACER if ENGINE_RUNS_TRACER.is_file() else None


def shipped_tracer() -> LearnedTracer | None:
    path = shipped_tracer_path()
    return load(path) if path else None


def evidence(view: SoftIdgView, attribution: Attribution) -> dict:
    """The evidence the slash carries: the path from the blamed step to the failure, with texts and scores."""
    return {"run_id": view.trajectory, "who": view.who, "when": view.when,
            "path": [_path_row(view.nodes[step]) for step in view.evidence_path],
            "failure_steps": view.failure_steps,
            "ranking": [{"step": node.step, "agent": node.agent, "score": node.score}
                        for node in (view.nodes[int(row["step"])] for row in attribution.ranking)]}


def slash_culprit(session, run_id: str, attribution: Attribution, trajectory: Trajectory | None = None,
                  amount: int = ATTRIBUTION_SLASH, reputation: int = ATTRIBUTION_REPUTATION) -> dict | None:
    """When the run's consensus is known to be wrong, the DAO authority slashes the agent the tracer named; the
    slash tx's payload carries the evidence path. Records an ``attribution`` run event either way (``tx`` None
    when nothing was slashed), committed by a block. Returns that event's payload.

    Right or wrong is read from the run's result as the authority signed it (`incident.resolve`), never from the
    editable stored row: a stored result that differs from the signed one raises RunResultUntrusted."""
    run_result(session, run_id)  # an unknown run is RunNotFound, before anything else
    signed = session.signed_result(run_id)
    trajectory = trajectory or run_trajectory(session, run_id)
    view = soft_idg_view(trajectory, attribution, text_chars=STEP_TEXT)
    proof = evidence(view, attribution)
    wrong = consensus_wrong({"root_cause": signed.get("root_cause"), "label": {"root_cause": signed.get("truth")}})
    payload = {"who": attribution.who, "when": attribution.when, "evidence_path": proof["path"],
               "ranking": proof["ranking"], "failure_steps": proof["failure_steps"], "consensus_wrong": wrong,
               "event_seq": (trajectory.meta.get("event_seqs") or [None] * (attribution.when + 1))[attribution.when],
               "label": ({"who": trajectory.label.who, "when": trajectory.label.when} if trajectory.label else None),
               "graph": view.to_dict(), "tx": None}
    first = _first_slash(session, run_id, attribution.who) if wrong and attribution.who in ROLE_BY_KEY else None
    if first is not None:
        payload["already_slashed"] = {"agent": attribution.who, "tx": first}
    elif wrong and attribution.who in ROLE_BY_KEY:
        dao = DaoExecutor(session.chain, session.wallets, session.events, run_id)
        reason = (f"attribution: {attribution.who} at step {attribution.when} led run {run_id} to the wrong root "
                  f"cause ({signed.get('root_cause')} instead of {signed['truth']}, signed in tx "
                  f"{signed['tx'][:16]})")
        mined = slash(dao, attribution.who, amount, reputation, reason, evidence=proof, run_id=run_id)
        payload["tx"] = mined.ref()
        payload["slashed"] = {"agent": attribution.who, "amount": amount, "reputation": reputation}
    session.events.append(run_id, "attribution", payload)
    session.commit_events()
    return payload


def _first_slash(session, run_id: str, agent: str) -> str | None:
    """The hash of the tx that already slashed `agent` for `run_id` (kept by the token contract), or None."""
    from engine.contracts.token import slashed_key

    return session.chain.state.storage_get("token", slashed_key(run_id, session.wallets.address(agent)))


def _path_row(node: StepNode) -> dict:
    return {"step": node.step, "agent": node.agent, "kind": node.kind, "text": node.text, "score": node.score}


def _query(run: dict | None, events: list) -> str:
    for event in events:
        alert = event.payload.get("alert") if isinstance(event.payload, dict) else None
        if isinstance(alert, dict) and alert.get("entity"):
            text = alert.get("description") or f"{alert.get('signal', 'alert')} on {alert['entity']}"
            return f"Find the root cause of incident {run.get('incident') if run else ''}: {text}"
    return f"Find the root cause of incident {run.get('incident') if run else ''}"
