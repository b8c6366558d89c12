"""`rca-tui eval …`: accuracy of the agents on a dataset, and of the attribution tracer."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rca_tui.cli.attribution import eval_attribution
from rca_tui.cli.common import DbOption, ExitCode, JsonOption, emit_json, fail, out, progress, say

app = typer.Typer(help="Accuracy on labelled datasets.", no_args_is_help=True)
app.command("attribution")(eval_attribution)


@app.command("rca")
def eval_rca(dataset: Annotated[Path, typer.Option("--dataset", help="Dataset folder (Nezha, PetShop, mABC).")],
             db: DbOption = None, json_out: JsonOption = False,
             case: Annotated[list[str] | None, typer.Option("--case", help="Only these case ids (repeat).")]
             = None,
             tamo: Annotated[str | None, typer.Option("--tamo-model", help="Let the agents use TAMO with this "
                                                      "checkpoint (a path or 'default'); off by default because "
                                                      "the bundled one was trained on the Nezha dev cases.")]
             = None) -> None:
    """Run every case through the seven agents; AC@1, AC@3, Avg@5 per system and fault type."""
    import tempfile

    from engine.evaluation.rca import evaluate_rca
    from engine.reasoners.heuristic import HeuristicReasoner
    from engine.runs.runner import run_incident
    from engine.runs.session import Session

    _check_cases(dataset, case)
    with tempfile.TemporaryDirectory() as tmp:
        session = Session(db or Path(tmp) / "eval.db")
        reasoner = HeuristicReasoner()

        def rank(incident) -> list[str]:
            return run_incident(session, incident, reasoner, dataset=str(dataset), tamo_model=tamo)["ranking"]

        with progress("cases") as advance:  # on stderr, --json or not
            report = evaluate_rca(str(dataset), rank, on_progress=advance, case_ids=case)
        verified = session.verify().ok
    report["chain_verified"] = verified
    if json_out:
        emit_json(report)
    else:
        _print_report(report)


def _check_cases(dataset: Path, case: list[str] | None) -> None:
    """A missing dataset or an unknown --case is the user's mistake: say which, exit non-zero, run nothing."""
    from engine.telemetry import list_cases

    try:
        known = {ref.case_id for ref in list_cases(dataset)}
    except (OSError, ValueError) as error:
        fail(f"cannot read the cases of {dataset}: {error}", ExitCode.NOT_FOUND)
    if not known:
        fail(f"{dataset} holds no cases", ExitCode.NOT_FOUND)
    unknown = [c for c in case or [] if c not in known]
    if unknown:
        fail(f"no case {', '.join(map(repr, unknown))} in {dataset} (rca-tui run --list --dataset {dataset} "
             f"lists them)", ExitCode.NOT_FOUND)


def _print_report(report: dict) -> None:
    from engine.evaluation.rca import format_table

    say("RCA accuracy of the seven agents (the consensus first, then the oracle's ranking):")
    out(format_table(report))
    say(f"chain verified after the evaluation: {report['chain_verified']}")
