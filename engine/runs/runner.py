"""Start runs: pick the reasoner, load the incident, run the seven agents. The CLI and the console call this."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from engine.agents.faults import FaultSpec, FaultyReasoner, read_telemetry
from engine.agents.tools import Toolbox
from engine.agents.workflow import Workflow
from engine.config import DEMO_DIR
from engine.reasoners.base import Reasoner, ReasonerError
from engine.reasoners.heuristic import HeuristicReasoner
from engine.runs.session import Session
from engine.runs.trajectory import fault_step_index, trajectory_steps
from engine.telemetry.model import Incident
from engine.telemetry.own import OwnTelemetry
from engine.telemetry.own import load_own_incident as load_own

REASONERS = ("heuristic", "openai", "local", "scripted")
ModelLoader = Callable[[str | None], tuple[Any, Any]]


def make_reasoner(name: str, session: Session | None = None, script_run: str | None = None,
                  llm_url: str | None = None, llm_model: str | None = None, llm_key: str | None = None,
                  llm_timeout: float = 60.0, model_loader: ModelLoader | None = None,
                  response_format: str = "json_schema") -> Reasoner:
    """`model_loader` loads the local reasoner's model by name (None: the default model); the UI passes the
    attribution layer's loader, which the runs layer cannot import without a cycle. `response_format`: the
    strongest structured output the openai reasoner asks for (see openai_compat.RESPONSE_FORMATS)."""
    if name == "heuristic":
        return HeuristicReasoner()
    if name == "openai":
        from engine.reasoners.openai_compat import EndpointConfig, OpenAICompatReasoner

        return OpenAICompatReasoner(EndpointConfig.from_env(llm_url, llm_model, llm_key, llm_timeout,
                                                            response_format=response_format))
    if name == "local":
        from engine.reasoners.local import LocalReasoner

        if model_loader is None:
            raise ReasonerError("the local reasoner needs a model loader (model name -> (model, tokenizer))")
        return LocalReasoner(*model_loader(llm_model))
    if name == "scripted":
        from engine.reasoners.scripted import ScriptedReasoner

        if session is None or script_run is None or session.run(script_run) is None:
            raise ReasonerError(f"the scripted reasoner replays a recorded run: give --script RUN_ID "
                                f"(got {script_run!r})")
        return ScriptedReasoner.from_events(session.run_events(script_run))
    raise ReasonerError(f"unknown reasoner {name!r}; choose one of {', '.join(REASONERS)}")


def run_incident(session: Session, incident: Incident, reasoner: Reasoner, dataset: str | None = None,
                 seed: int = 0, fallback: Reasoner | None = None, fault: FaultSpec | None = None,
                 tamo_model: str | None = "default", stacker: str | Path | None = "default",
                 fault_kind_model: str | Path | None = "default") -> dict:
    """Run the seven agents; with `fault`, one agent misbehaves and the result says who / when it did. TAMO and the
    stacked ranker are on by default where the bundled checkpoint covers the incident's system (see Toolbox);
    `tamo_model` / `stacker` None or "none" turn them off, a path picks another; so does `fault_kind_model` for
    the fault-type classifier."""
    toolbox = Toolbox(incident, tamo_model, stacker, fault_kind_model)
    if fault is None:
        return Workflow(session, reasoner, fallback=fallback).run(incident, dataset, seed, toolbox)
    faulty = FaultyReasoner(reasoner, fault, read_telemetry(toolbox, seed), seed)
    result = Workflow(session, faulty, fallback=fallback).run(incident, dataset, seed, toolbox)
    events = session.run_events(result["run_id"])
    steps = trajectory_steps(events)
    result["injected_fault"] = {**fault.to_dict(), "template": faulty.template, "decoy": faulty.decoy,
                                "agent_step": faulty.struck_at,
                                "trajectory_step": fault_step_index(steps, events, fault.agent, fault.mode,
                                                                    faulty.struck_at)}
    session.finish_run(result["run_id"], result["status"], result)  # keep who / when with the stored run
    return result


def load_incident(dataset_dir: Path, case_id: str) -> Incident:
    from engine.telemetry import load_case

    return load_case(dataset_dir, case_id)


def load_own_incident(inputs: OwnTelemetry) -> Incident:
    """An incident from an SRE's own OTLP traces, Prometheus metrics, log files and alert."""
    return load_own(inputs)


def demo_case_id() -> str:
    from engine.telemetry import list_cases

    return list_cases(DEMO_DIR)[0].case_id


def run_demo(session: Session, reasoner: Reasoner | None = None,
             on_loaded: Callable[[Incident], None] | None = None) -> dict:
    """The bundled demo incident (a real, trimmed Nezha Train-Ticket case) through the seven agents."""
    incident = load_incident(DEMO_DIR, demo_case_id())
    if on_loaded:
        on_loaded(incident)
    return run_incident(session, incident, reasoner or HeuristicReasoner(), dataset=str(DEMO_DIR))
