"""Runs and their views: demo, runs list, events, sop status, reset."""
from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from engine.reasoners.openai_compat import RESPONSE_FORMATS
from rca_tui.cli.common import (DbOption, ExitCode, JsonOption, emit_json, fail, out, print_table, ranker_choice,
                                resolve_db, say)
from rca_tui.cli.own_telemetry import (
    AlertEntityOption,
    AlertNameOption,
    AlertRulesOption,
    AlertTimeOption,
    LogsOption,
    OtelOption,
    PrometheusOption,
    QueriesOption,
    own_telemetry,
)

runs_app = typer.Typer(help="Past and running incident runs.", no_args_is_help=True)
sop_app = typer.Typer(help="The SOP state machine of an incident.", no_args_is_help=True)


def _session(db: Path | None):
    from engine.runs.session import Session

    return Session(resolve_db(db))


LANGUAGE_MODELS = ("openai", "local")  # reasoners whose replies may fail the checks: their tally is shown


class ReasonerName(str, Enum):
    heuristic = "heuristic"
    openai = "openai"
    local = "local"
    scripted = "scripted"


ResponseFormat = Enum("ResponseFormat", {form: form for form in RESPONSE_FORMATS}, type=str)
ReasonerOption = Annotated[ReasonerName, typer.Option("--reasoner", help="heuristic (offline) | openai | local (an "
                                                                         "HF model in-process) | scripted.")]


def demo(db: DbOption = None, json_out: JsonOption = False,
         headless: Annotated[bool, typer.Option("--headless", help="No console; print the result.")] = False) -> None:
    """Run the bundled demo incident (a real Nezha Train-Ticket case) through the seven agents."""
    if not headless and not json_out and sys.stdout.isatty():
        from rca_tui.cli.console import launch_console

        launch_console(resolve_db(db), start_demo=True)
        return
    from engine.runs.runner import run_demo

    result = _guarded(lambda: run_demo(_session(db)))
    _show_result(result, json_out)


def run(incident: Annotated[str | None, typer.Argument(metavar="INCIDENT", help="Case id (see --list); with "
                                                                            "own telemetry, a name for it.")] = None,
        dataset: Annotated[Path | None, typer.Option("--dataset", help="Dataset folder (Nezha, PetShop, mABC).")]
        = None,
        list_only: Annotated[bool, typer.Option("--list", help="List the dataset's cases and exit.")] = False,
        reasoner: ReasonerOption = ReasonerName.heuristic,
        seed: Annotated[int, typer.Option("--seed")] = 0,
        script: Annotated[str | None, typer.Option("--script", help="RUN_ID whose decisions the scripted "
                                                                     "reasoner replays.")] = None,
        fallback: Annotated[bool, typer.Option("--fallback/--no-fallback",
                                               help="Answer with the heuristic reasoner where the chosen one "
                                                    "fails (recorded as reasoner_error events).")] = False,
        llm_url: Annotated[str | None, typer.Option("--llm-url", help="OpenAI-compatible base URL "
                                                                      "(or RCA_TUI_LLM_URL).")] = None,
        llm_model: Annotated[str | None, typer.Option("--llm-model", help="openai: the model name at the endpoint; "
                                                      "local: an HF model folder or .gguf (default: the bundled "
                                                      "SmolLM2).")] = None,
        llm_timeout: Annotated[float, typer.Option("--llm-timeout", help="Seconds per request.")] = 60.0,
        llm_response_format: Annotated[ResponseFormat, typer.Option(
            "--llm-response-format", help="openai: the strongest structured output to ask for; weaker forms are "
                                          "tried when the server refuses it.")] = ResponseFormat.json_schema,
        tamo: Annotated[str | None, typer.Option(
            "--tamo-model", help="TAMO checkpoint for the agents' TAMO tools: a path, 'default' (the bundled one, "
                                 "used where its manifest lists the incident's system) or 'none'.")] = None,
        stacker: Annotated[str | None, typer.Option(
            "--stacker", help="Stacked ranker the Probability Oracle ranks with: a path, 'default' (the bundled "
                              "one, whenever TAMO is on) or 'none' (statistical ranking blended with TAMO T2).")]
        = None,
        inject_fault: Annotated[str | None, typer.Option(
            "--inject-fault", metavar="AGENT:STEP:MODE",
            help="Make one agent misbehave (modes: hallucinate, misreport, vote_against).")] = None,
        otel: OtelOption = None, prometheus: PrometheusOption = None, queries: QueriesOption = None,
        logs: LogsOption = None, alert_time: AlertTimeOption = None, alert_entity: AlertEntityOption = None,
        alert_rules: AlertRulesOption = None, alert_name: AlertNameOption = None,
        db: DbOption = None, json_out: JsonOption = False) -> None:
    """Run one incident through the seven agents: a case of a dataset, or your own telemetry (OTLP traces,
    Prometheus, log files and an alert). An LLM key is read from RCA_TUI_LLM_KEY."""
    own = own_telemetry(incident, otel, prometheus, queries, logs, alert_time, alert_entity, alert_rules, alert_name)
    if own.given and (dataset is not None or list_only):
        fail("give either --dataset or own telemetry (--otel / --prometheus / --logs), not both", ExitCode.USAGE)
    if not own.given and dataset is None:
        fail("give --dataset DIR (a Nezha, PetShop or mABC folder) or own telemetry (--otel / --prometheus / "
             "--logs)", ExitCode.USAGE)
    if list_only:
        _list_cases(dataset, json_out)
        return
    if incident is None and not own.given:
        fail("name a case: rca-tui run CASE --dataset DIR (rca-tui run --list --dataset DIR lists them)",
             ExitCode.USAGE)
    from engine.agents.faults import FaultSpec
    from engine.reasoners.heuristic import HeuristicReasoner
    from engine.reasoners.tally import ReplyTally
    from engine.runs.runner import load_incident, load_own_incident, make_reasoner, run_incident

    tamo_model, stacker_choice = ranker_choice(tamo, stacker)
    fault = _guarded(lambda: FaultSpec.parse(inject_fault)) if inject_fault else None
    # every input is read before the database is opened: bad input leaves nothing behind
    loaded = _guarded(lambda: load_own_incident(own) if own.given else load_incident(dataset, incident))
    source = ", ".join(loaded.sources) if own.given else str(dataset)
    session = _session(db)
    chosen = _guarded(lambda: make_reasoner(reasoner.value, session, script, llm_url, llm_model, None, llm_timeout,
                                            load_local_model, llm_response_format.value))
    tally = ReplyTally(chosen)
    result = _guarded(lambda: run_incident(session, loaded, tally, source, seed,
                                           HeuristicReasoner() if fallback else None, fault, tamo_model,
                                           stacker_choice))
    if reasoner.value in LANGUAGE_MODELS:
        result["replies"] = tally.summary()
        if reasoner.value == "openai":
            result["replies"]["response_format"] = chosen.response_format
    _show_result(result, json_out)


def load_local_model(name: str | None):
    """(model, tokenizer) of an HF model folder or .gguf file, or of the bundled SmolLM2 when `name` is None."""
    from engine.attribution.slm import DEFAULT_MODEL, ModelUnavailableError, load_model
    from engine.reasoners.base import ReasonerError

    try:
        return load_model(name or DEFAULT_MODEL)
    except ModelUnavailableError as exc:
        raise ReasonerError(str(exc)) from None


def _list_cases(dataset: Path, json_out: bool) -> None:
    from engine.telemetry import list_cases

    rows = [{"case": ref.case_id, "system": ref.system, "dataset": ref.dataset, "summary": ref.summary}
            for ref in _guarded(lambda: list_cases(dataset))]
    if json_out:
        emit_json(rows)
    else:
        print_table(rows, ["case", "system", "dataset", "summary"], title=f"Cases in {dataset}")


def _guarded(action):
    """Run an engine call; a user-facing failure becomes a clear message and a non-zero exit."""
    from engine.agents.workflow import RunFailed
    from engine.reasoners.base import ReasonerError

    try:
        return action()
    except (RunFailed, ReasonerError, ValueError, FileNotFoundError, KeyError) as exc:
        fail(str(exc).strip("'\""))


def _show_result(result: dict, json_out: bool) -> None:
    """The result is data: stdout (so `rca-tui run … | grep root` finds the root cause); warnings go to stderr."""
    for warning in result.get("warnings", []):
        say(f"warning: {warning}")
    if json_out:
        emit_json(result)
        return
    out(f"run {result['run_id']} on {result['incident']}: {result['status']} in {result['seconds']} s")
    out(f"root cause: {result['root_cause']}  (truth: {(result['label'] or {}).get('root_cause', 'unknown')})")
    out(f"reason: {result['reason']}")
    out(f"ranker: {result['ranker']}")
    out(f"propagation: {' -> '.join(result['propagation_path'])}")
    print_table([{"rank": i + 1, **{k: c[k] for k in ("entity", "score")}} for i, c in
                 enumerate(result["candidates"])], ["rank", "entity", "score"], title="Candidates")
    for proposal in result["proposals"]:
        out(f"proposal {proposal['root_cause']}: {proposal['outcome']} (tx {proposal['tx']}, block "
            f"{proposal['block']}); votes: " + ", ".join(f"{v['voter']} {v['option']} @{v['block']}"
                                                          for v in proposal["votes"]))
    if result.get("replies"):
        tally = result["replies"]
        asked = f"; response_format {tally['response_format']}" if "response_format" in tally else ""
        say(f"replies used as given: {tally['used_as_given']} of {tally['replies']} ({tally['rejected']} failed "
            f"the checks{asked})")
    if result.get("injected_fault"):
        out(f"injected fault: {result['injected_fault']}")
    if result["consensus"]:
        out(f"consensus at block {result['consensus']['block']} (tx {result['consensus']['tx']})")
    for step in result["repair_steps"]:
        out(f"  {step['step_id']}. {step['action']}: {step['description']}")
    say(f"next: rca-tui report {result['run_id']} --format md (the postmortem), "
        f"rca-tui replay {result['run_id']} (step through it)")


@runs_app.command("list")
def list_runs(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Every run, newest first: id, incident, status, root cause, truth, correct?, blamed agent, start time."""
    rows = _session(db).run_rows()
    if json_out:
        emit_json(rows)
    else:
        for row in rows:
            row["correct"] = {True: "yes", False: "NO", None: "-"}[row["correct"]]
        print_table(rows, ["run_id", "incident", "status", "root_cause", "truth", "correct", "blamed", "started"],
                    title="Runs")


def events(db: DbOption = None, json_out: JsonOption = False,
           run: Annotated[str | None, typer.Option("--run", help="Only this run.")] = None,
           limit: Annotated[int | None, typer.Option(help="Newest N events.")] = None) -> None:
    """Run events in order: thoughts, actions, observations, txs, blocks, votes, consensus."""
    session = _session(db)
    if run is not None and session.run(run) is None:
        fail(f"no run {run!r} (see `rca-tui runs list`)", ExitCode.NOT_FOUND)
    rows = [e.to_dict() for e in session.run_events(run, limit)]
    if json_out:
        emit_json(rows)
    else:
        print_table(rows, ["run_id", "seq", "kind", "block_height", "payload"], title="Events")


@sop_app.command("status")
def sop_status(db: DbOption = None, json_out: JsonOption = False,
               run: Annotated[str | None, typer.Option("--run", help="The run's incident (default: latest run).")]
               = None) -> None:
    """Current SOP state, transition history with block heights, and the tally of the open proposal."""
    session = _session(db)
    runs = session.runs()
    chosen = next((r for r in runs if r["run_id"] == run), None) if run else (runs[0] if runs else None)
    if chosen is None:
        fail(f"no run {run!r}" if run else "no runs yet (try `rca-tui demo`)", ExitCode.NOT_FOUND)
    status = session.run_sop_status(chosen["run_id"])
    if status is None:
        fail(f"incident {chosen['incident']} was never opened on chain", ExitCode.NOT_FOUND)
    if json_out:
        emit_json({"run_id": chosen["run_id"], **status})
        return
    out(" → ".join(f"[{s}]" if s == status["state"] else s for s in status["states"]))
    print_table(status["history"], ["height", "from", "to", "tx"], title=f"SOP of {chosen['incident']}")


def reset(db: DbOption = None,
          yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False) -> None:
    """Delete the database (chain, state, runs, events) and the agents' keystore."""
    import shutil

    path = resolve_db(db)
    if not yes and not typer.confirm(f"Delete {path} and its keystore?"):
        raise typer.Exit(int(ExitCode.USAGE))
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    shutil.rmtree(str(path) + ".keys", ignore_errors=True)
    say(f"removed {path}")


def register(app: typer.Typer) -> None:
    app.command()(demo)
    app.command()(run)
    app.command()(events)
    app.command()(reset)
