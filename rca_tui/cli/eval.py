"""`rca-tui eval …`: accuracy of the agents on a dataset, and of the attribution tracer."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rca_tui.cli.attribution import eval_attribution
from rca_tui.cli.attribution_studies import attribution_bench, eval_injection
from rca_tui.cli.common import DbOption, ExitCode, JsonOption, emit_json, fail, say

app = typer.Typer(help="Accuracy on labelled datasets.", no_args_is_help=True)
app.command("attribution")(eval_attribution)
app.command("injection")(eval_injection)
app.command("attribution-bench")(attribution_bench)


@app.command("rca")
def eval_rca(dataset: Annotated[Path | None, typer.Option("--dataset", help="Dataset folder (Nezha, PetShop, mABC).")]
             = None,
             db: DbOption = None, json_out: JsonOption = False,
             case: Annotated[list[str] | None, typer.Option("--case", help="Only these case ids (repeat).")]
             = None,
             tamo: Annotated[str | None, typer.Option("--tamo-model", help="Let the agents use TAMO with this "
                                                      "checkpoint (a path or 'default'); off by default because "
                                                      "the bundled one was trained on the Nezha dev cases.")]
             = None,
             protocol: Annotated[str | None, typer.Option("--protocol", help="Score out of sample instead: kfold, "
                                                          "cross-system, leave-fault-type-out, synthetic (with "
                                                          "--train), a comma list, or all.")] = None,
             train: Annotated[Path | None, typer.Option("--train", help="Fit / calibrate on this folder ...")]
             = None,
             test: Annotated[Path | None, typer.Option("--test", help="... and score this one (default: --dataset).")]
             = None,
             folds: Annotated[int, typer.Option("--folds", help="k for --protocol kfold.")] = 5,
             save_stacker: Annotated[Path | None, typer.Option("--save-stacker", help="With --protocol / --train: "
                                                               "fit the stacked ranker on the training folder (or "
                                                               "all scored cases) and save it with a manifest.")]
             = None,
             stacker: Annotated[Path | None, typer.Option("--stacker", help="The oracle ranks with this stacked "
                                                          "ranker (from --save-stacker).")] = None) -> None:
    """Run every case through the seven agents; AC@1, AC@3, Avg@5 per system and fault type. With --protocol or
    --train/--test: every ranker scored only on cases it was not fitted on, in one table."""
    import tempfile

    if protocol or train or test:
        from rca_tui.cli.protocol import run_protocols

        return run_protocols(dataset, protocol, train, test, folds, tamo, save_stacker, json_out,
                             lambda job: _with_progress(job, quiet=json_out))

    from engine.evaluation.rca import evaluate_rca
    from engine.reasoners.heuristic import HeuristicReasoner
    from engine.runs.runner import run_incident
    from engine.runs.session import Session

    if dataset is None:
        fail("--dataset DIR is required (or --train DIR --test DIR)", ExitCode.USAGE)
    with tempfile.TemporaryDirectory() as tmp:
        session = Session(db or Path(tmp) / "eval.db")
        reasoner = HeuristicReasoner()

        def rank(incident) -> list[str]:
            return run_incident(session, incident, reasoner, dataset=str(dataset), tamo_model=tamo,
                                stacker=stacker)["ranking"]

        report = _with_progress(lambda progress: evaluate_rca(str(dataset), rank, on_progress=progress,
                                                              case_ids=case), quiet=json_out)
        verified = session.verify().ok
    report["chain_verified"] = verified
    if json_out:
        emit_json(report)
    else:
        _print_report(report)


def _with_progress(job, quiet: bool):
    import sys

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    disabled = quiet and not sys.stdout.isatty()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), disable=disabled) as progress:
        task = progress.add_task("cases", total=None)

        def advance(done: int, total: int, result) -> None:
            progress.update(task, completed=done, total=total, description=result.case_id)

        return job(advance)


def _print_report(report: dict) -> None:
    from engine.evaluation.rca import format_table

    say("RCA accuracy of the seven agents (the consensus first, then the oracle's ranking):")
    print(format_table(report))
    say(f"chain verified after the evaluation: {report['chain_verified']}")
