"""`rca-tui eval …`: accuracy of the agents on a dataset, and of the attribution tracer."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rca_tui.cli.attribution import eval_attribution
from rca_tui.cli.attribution_studies import attribution_bench, eval_injection
from rca_tui.cli.common import (DbOption, ExitCode, JsonOption, emit_json, fail, out, print_confusion, progress,
                                ranker_choice, say, scale_out_note)
from rca_tui.cli.fault_type import SyntheticFaultsOption, SyntheticWeightOption, eval_fault_type
from rca_tui.cli.protocol import FaultKindSynthetic
from rca_tui.cli.tamo import ExtraTrainOption

app = typer.Typer(help="Accuracy on labelled datasets.", no_args_is_help=True)
app.command("attribution")(eval_attribution)
app.command("injection")(eval_injection)
app.command("attribution-bench")(attribution_bench)
app.command("fault-type")(eval_fault_type)


@app.command("rca")
def eval_rca(dataset: Annotated[Path | None, typer.Option("--dataset", help="Dataset folder (Nezha, PetShop, mABC).")]
             = None,
             db: DbOption = None, json_out: JsonOption = False,
             case: Annotated[list[str] | None, typer.Option("--case", help="Only these case ids (repeat).")]
             = None,
             tamo: Annotated[str | None, typer.Option("--tamo-model", help="TAMO checkpoint of the agents: a path, "
                                                      "'default' (the bundled one, on the systems its manifest "
                                                      "lists; cases it was trained on are flagged in-sample) or "
                                                      "'none'. With --protocol: default trains TAMO per split "
                                                      "(out of fold, cached).")]
             = None,
             protocol: Annotated[str | None, typer.Option("--protocol", help="Score out of sample instead: kfold, "
                                                          "cross-system, leave-fault-type-out, synthetic (with "
                                                          "--train), a comma list, or all.")] = None,
             train: Annotated[Path | None, typer.Option("--train", help="Fit / calibrate on this folder ...")]
             = None,
             test: Annotated[Path | None, typer.Option("--test", help="... and score this one (default: --dataset).")]
             = None,
             folds: Annotated[int, typer.Option("--folds", help="k for --protocol kfold.")] = 5,
             agents: Annotated[bool, typer.Option("--agents", help="With --protocol: also run the seven agents on "
                                                  "every held-out case, with the split's own TAMO and stacked "
                                                  "ranker (the consensus row; slower).")] = False,
             save_stacker: Annotated[Path | None, typer.Option("--save-stacker", help="With --protocol / --train: "
                                                               "fit the stacked ranker on the training folder (or "
                                                               "all scored cases) and save it with a manifest.")]
             = None,
             stacker: Annotated[str | None, typer.Option("--stacker", help="The oracle ranks with this stacked "
                                                         "ranker (from --save-stacker), 'default' (the bundled "
                                                         "one, whenever TAMO is on) or 'none'.")] = None,
             extra_train: ExtraTrainOption = None,
             fault_type_synthetic: Annotated[list[Path] | None, typer.Option(
                 "--fault-type-synthetic", help="With --protocol / --train and --agents: a folder from `rca-tui "
                                                "synth` whose cases join every split's fault-kind classifier (never "
                                                "TAMO's training), as `eval fault-type --synthetic` takes them "
                                                "(repeat).")] = None,
             stacker_synthetic: Annotated[list[Path] | None, typer.Option(
                 "--stacker-synthetic", help="With --protocol / --train: a folder from `rca-tui synth` whose cases "
                                             "join every split's stacked ranker (and --save-stacker's) beside the "
                                             "real training cases, together weighing half as much; TAMO T2 scores "
                                             "them with the shipped checkpoint (repeat).")] = None,
             synthetic_seed: Annotated[list[int] | None, typer.Option(
                 "--synthetic-seed", help="With --protocol / --train: the shipped recipe's synthetic folders, made "
                                          "from the fitted folder with this seed as `eval fault-type "
                                          "--synthetic-seed` makes them (cached in $RCA_TUI_CACHE/synth), join "
                                          "every split's stacked ranker as --stacker-synthetic and, with --agents, "
                                          "its fault-kind classifier as --fault-type-synthetic (repeat for "
                                          "several draws).")] = None,
             synthetic_weight: SyntheticWeightOption = "lacking",
             synthetic_faults: SyntheticFaultsOption = "all",
             workers: Annotated[int, typer.Option("--workers", min=1, help="Cases in parallel in N local "
                                                                           "processes.")] = 1,
             dask_scheduler: Annotated[str | None, typer.Option(
                 "--dask-scheduler", metavar="tcp://HOST:PORT", help="Run the cases on a Dask distributed "
                                                                     "cluster.")] = None) -> None:
    """Run every case through the seven agents; AC@1, AC@3, Avg@5 per system and fault type. With --protocol or
    --train/--test: every ranker scored only on cases it was not fitted on, in one table."""
    import tempfile
    import time

    fault_kind = FaultKindSynthetic(fault_type_synthetic, synthetic_weight, synthetic_faults)
    if protocol or train or test:
        from rca_tui.cli.protocol import run_protocols

        return run_protocols(dataset, protocol, train, test, folds, tamo, save_stacker, json_out, _with_progress,
                             workers, dask_scheduler, agents, extra_train, fault_kind, stacker_synthetic,
                             synthetic_seed)

    from engine.evaluation.rca import evaluate_rca, flag_in_sample
    from engine.parallel import ParallelError
    from engine.runs.batch import AgentRanking, chains_verified

    if dataset is None:
        fail("--dataset DIR is required (or --train DIR --test DIR)", ExitCode.USAGE)
    given = ("--extra-train" if extra_train else "--stacker-synthetic" if stacker_synthetic else
             "--synthetic-seed" if synthetic_seed else fault_kind.given())
    if given:
        fail(f"{given} shapes the training side of --protocol / --train; without them nothing is trained",
             ExitCode.USAGE)
    _check_cases(dataset, case)
    tamo_model, stacker_choice = ranker_choice(tamo, stacker)
    with tempfile.TemporaryDirectory() as tmp:
        ranking = AgentRanking(str(db or Path(tmp) / "eval.db"), str(dataset), tamo_model, stacker_choice)
        started = time.perf_counter()
        try:
            with progress("cases") as advance:  # on stderr, --json or not
                report = evaluate_rca(str(dataset), ranking, on_progress=advance, case_ids=case, workers=workers,
                                      scheduler=dask_scheduler)
        except ParallelError as exc:
            fail(str(exc))
        report["wall_clock_s"] = round(time.perf_counter() - started, 2)
        report["chain_verified"] = chains_verified(ranking)
    report["provenance"] = ranking.provenance([(c["case_id"], c["system"]) for c in report["cases"]])
    flag_in_sample(report, set(report["provenance"]["in_sample_cases"]))
    report["scale_out"] = {"workers": workers, "dask_scheduler": dask_scheduler}
    if json_out:
        emit_json(report)
    else:
        _print_report(report)
    _fail_when_nothing_scored(report)


def _fail_when_nothing_scored(report: dict) -> None:
    """Each failed case is in the report (the others still ran); when none could be scored, exit non-zero."""
    failures = report["failures"]
    for failure in failures:
        say(f"case {failure['case_id']} failed: {failure['error']}")
    if report["cases"] and len(failures) == len(report["cases"]):
        fail(f"none of the {len(failures)} case(s) could be scored; see the failures above")


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


def _with_progress(job):
    """Run `job(advance)` with a progress bar on stderr, --json or not."""
    with progress("cases") as advance:
        return job(advance)


def _print_report(report: dict) -> None:
    from engine.evaluation.rca import format_table

    say("RCA accuracy of the seven agents (the consensus first, then the oracle's ranking):")
    for system, ranker in report["provenance"]["rankers"].items():
        say(f"{system}: {ranker}")
    if report["provenance"]["in_sample_cases"]:
        say(f"IN-SAMPLE: {len(report['provenance']['in_sample_cases'])} of these cases were used to train the "
            "TAMO checkpoint or the stacked ranker (column in_sample): their figures do not show how it does on "
            "unseen incidents (use --protocol for that)")
    out(format_table(report))
    typed = report["fault_type"]
    if typed:
        if report["provenance"]["fault_type_in_sample_cases"]:
            say(f"IN-SAMPLE fault type: the fault-kind classifier was trained on "
                f"{len(report['provenance']['fault_type_in_sample_cases'])} of these cases")
        say(f"fault type the Solution Engineer's plan goes by: accuracy {typed['accuracy']}, macro-F1 "
            f"{typed['macro_f1']} over {typed['cases']} labelled cases ({typed['named']} named one)")
        print_confusion(typed["confusion"], "fault type: confusion (columns: named; - none)")
    say(f"chain verified after the evaluation: {report['chain_verified']}")
    say(f"wall clock: {report['wall_clock_s']} s" + scale_out_note(report["scale_out"]))

