"""`rca-tui tamo …`: train, evaluate and run the TAMO tools (T1 fusion, T2 causal ranking, T3 fault type, A report).

torch and the engine are imported inside the commands so `rca-tui --help` stays instant.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.config import TAMO_MEMBERS
from rca_tui.cli.common import ExitCode, JsonOption, emit_json, fail, invocation, out, print_confusion, print_table, progress, say

app = typer.Typer(help="TAMO tools: multimodal fusion, causal root-cause ranking, fault-type classification.",
                  no_args_is_help=True)

DatasetOption = Annotated[Path, typer.Option("--dataset", help="Dataset folder (e.g. ../shared/datasets/rca/nezha).")]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed (training is deterministic for a seed).")]
MembersOption = Annotated[int, typer.Option("--members", min=1, help="TAMOs trained from seeds SEED, SEED+1, ... "
                                                                    "whose scores are averaged.")]
FoldsOption = Annotated[int, typer.Option("--folds", help="k for k-fold cross-validation over cases.")]
WorkersOption = Annotated[int, typer.Option("--workers", min=1, help="Per-case feature extraction in N local "
                                                                     "processes (same results as serial).")]
SchedulerOption = Annotated[str | None, typer.Option("--dask-scheduler", metavar="tcp://HOST:PORT",
                                                     help="Extract the per-case features on a Dask distributed "
                                                          "cluster (same results as serial).")]
ExtraTrainOption = Annotated[list[Path] | None, typer.Option(
    "--extra-train", help="Another labelled folder (e.g. made by `rca-tui synth`) whose cases join the training "
                          "side, of every fold too, and are never scored (repeat).")]


def extra_cases(folders: list[Path] | None, scored: list[Path], on_progress, workers: int = 1,
                scheduler: str | None = None):
    """The --extra-train folders' cases (an empty set without any); a clear error for a folder that is not one, or
    one that is also scored."""
    from engine.evaluation.tamo import ExtraTraining, extra_training
    from engine.parallel import ParallelError
    from engine.telemetry.errors import TelemetryError

    for folder in folders or []:
        if not folder.is_dir():
            fail(f"--extra-train {folder}: not a folder; expected a labelled dataset folder such as one made by "
                 "`rca-tui synth`", ExitCode.USAGE)
    if not folders:
        return ExtraTraining()
    try:
        return extra_training(folders, scored, on_progress, workers, scheduler)
    except ValueError as exc:
        fail(str(exc), ExitCode.USAGE)
    except (TelemetryError, ParallelError) as exc:
        fail(str(exc))


def _cases(dataset: Path, on_progress, least: int = 2, workers: int = 1, scheduler: str | None = None):
    from engine.parallel import ParallelError
    from engine.tamo.dataset import dataset_features
    from engine.telemetry.errors import TelemetryError

    if not dataset.is_dir():
        fail(f"{dataset}: not a folder; expected a dataset folder such as ../shared/datasets/rca/nezha", ExitCode.USAGE)
    try:
        cases = dataset_features(dataset, on_progress, workers=workers, scheduler=scheduler)
    except (TelemetryError, ParallelError) as exc:
        fail(str(exc))
    if len(cases) < least:
        fail(f"{dataset}: {len(cases)} labelled cases found; " +
             ("training needs at least two" if least == 2 else "scoring needs at least one"))
    return cases


@app.command("train")
def train(dataset: DatasetOption,
          out: Annotated[Path | None, typer.Option("--out", help="Checkpoint file (default: data/tamo/tamo-nezha.pt).")] = None,
          seed: SeedOption = 0,
          members: MembersOption = TAMO_MEMBERS,
          folds: Annotated[int, typer.Option("--folds", help="Also cross-validate with k folds first (0: skip).")] = 0,
          extra_train: ExtraTrainOption = None,
          json_out: JsonOption = False) -> None:
    """Train T1, T2 and T3 on every labelled case of DATASET (and of each --extra-train folder), --members times
    from consecutive seeds, and save them as one checkpoint; its manifest lists DATASET's cases, and the extra
    folders with how they were made."""
    from engine.config import TAMO_CHECKPOINT
    from engine.evaluation.tamo import evaluation_report
    from engine.provenance import write_manifest
    from engine.tamo.ensemble import train_ensemble
    from engine.tamo.model import TrainConfig

    config = TrainConfig(seed=seed, members=members)
    with progress("tamo") as on_progress:  # stderr, --json or not
        cases = _cases(dataset, on_progress)
        extra = extra_cases(extra_train, [dataset], on_progress)
        cv = evaluation_report(cases, config, folds, on_progress=on_progress, extra=extra) if folds > 1 else None
        model = train_ensemble(cases + extra.cases, config, on_progress)
    path = model.save(out or TAMO_CHECKPOINT)
    write_manifest(path, invocation(), seed, str(dataset), [case.features.case_id for case in cases],
                   [case.features.system for case in cases], extra.manifest())
    result = {"checkpoint": str(path), "cases": len(cases), "extra_train_cases": len(extra.cases),
              "train_seconds": round(model.train_seconds, 1), "fault_types": model.fault_types, "seed": seed,
              "members": members,
              "cross_validation": cv}
    if json_out:
        emit_json(result)
    else:
        also = f" + {len(extra.cases)} from {', '.join(extra.folders)}" if extra.cases else ""
        say(f"trained on {len(cases)} cases{also} in {model.train_seconds:.1f} s -> {path}")
        if cv:
            _print_scores(cv)


@app.command("infer")
def infer(case: Annotated[str, typer.Argument(help="Case id, e.g. tt-2023-01-29-00.")], dataset: DatasetOption,
          model_path: Annotated[Path | None, typer.Option("--model", help="Checkpoint (default: the bundled one).")] = None,
          top_k: Annotated[int, typer.Option("--top-k", help="How many ranked entities to show.")] = 5,
          json_out: JsonOption = False) -> None:
    """Top-K root-cause entities, the causal graph, the fault type and the expert report for one case."""
    from engine.tamo import api
    from engine.telemetry import load_case
    from engine.telemetry.errors import TelemetryError

    try:
        model = api.load_model(model_path)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc), ExitCode.NOT_FOUND)
    try:
        incident = load_case(dataset, case)
    except TelemetryError as exc:
        fail(str(exc), ExitCode.NOT_FOUND)
    result = api.report(incident, model, top_k=top_k)
    if json_out:
        emit_json(result)
        return
    print_table(result["top_k"], ["entity", "score"], title=f"{case}: root-cause ranking (T2)")
    print_table([{"fault_type": k, "probability": v} for k, v in result["fault_type"].items()],
                ["fault_type", "probability"], title="fault type (T3)")
    expert = result["report"]
    out(expert["fault_analysis"])  # the expert report is the command's data: stdout
    out(f"impact: {expert['impact']['summary']}")
    out(f"priority: {expert['priority']['level']} ({expert['priority']['reason']})")
    for step in expert["remediation"]:
        out(f"- {step}")


@app.command("eval")
def evaluate(dataset: DatasetOption, seed: SeedOption = 0, members: MembersOption = TAMO_MEMBERS, folds: FoldsOption = 5,
             scheme: Annotated[str, typer.Option("--scheme", help="kfold (over cases), loso (leave one system out) "
                                                 "or lfto (leave one fault type out).")] = "kfold",
             ablations: Annotated[bool, typer.Option("--ablations", help="Also run every ablation.")] = False,
             model_path: Annotated[Path | None, typer.Option("--model", help="Score this checkpoint on DATASET "
                                                            "instead of cross-validating (cases its manifest lists "
                                                            "are scored apart, flagged in-sample).")] = None,
             workers: Annotated[int, typer.Option("--workers", min=1, help="Feature extraction and the folds' "
                                                  "training in N local processes (same results as serial).")] = 1,
             dask_scheduler: SchedulerOption = None,
             extra_train: ExtraTrainOption = None,
             json_out: JsonOption = False) -> None:
    """Cross-validated AC@1 / AC@3 / Avg@5 per system and fault-type accuracy / macro-F1 (never on training cases);
    with --model, a given checkpoint scored on DATASET. Each fold's model and its out-of-fold scores are cached
    ($RCA_TUI_CACHE/tamo-oof), so a second run, or `eval rca --protocol` on the same folder, trains nothing.
    --extra-train folders join every fold's training side (the cache key names them)."""
    from engine.config import settings
    from engine.evaluation.tamo import ABLATIONS, SCHEMES, evaluation_report
    from engine.parallel import ParallelError
    from engine.tamo.model import TrainConfig

    if model_path is not None:
        if extra_train:
            fail("--extra-train trains folds; with --model nothing is trained (train the checkpoint with "
                 "`tamo train --extra-train`)", ExitCode.USAGE)
        return _score_checkpoint(dataset, model_path, json_out, workers, dask_scheduler)
    if scheme not in SCHEMES:
        fail(f"--scheme {scheme!r}: expected one of {', '.join(SCHEMES)}", ExitCode.USAGE)
    with progress("tamo") as on_progress:  # stderr, --json or not
        cases = _cases(dataset, on_progress, workers=workers, scheduler=dask_scheduler)
        extra = extra_cases(extra_train, [dataset], on_progress, workers, dask_scheduler)
        try:
            report = evaluation_report(cases, TrainConfig(seed=seed, members=members), folds, scheme,
                                       tuple(ABLATIONS) if ablations else ("full",), on_progress,
                                       settings().oof_cache, str(dataset.resolve()), workers, dask_scheduler,
                                       extra)
        except ParallelError as exc:
            fail(str(exc))
    if json_out:
        emit_json(report)
    else:
        _print_scores(report)


def _score_checkpoint(dataset: Path, model_path: Path, json_out: bool, workers: int = 1,
                      scheduler: str | None = None) -> None:
    from engine.config import FAULT_KIND_MODEL
    from engine.evaluation.tamo import checkpoint_report
    from engine.tamo import api

    try:
        model = api.load_model(model_path)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc), ExitCode.NOT_FOUND)
    with progress("tamo") as on_progress:  # stderr, --json or not
        cases = _cases(dataset, on_progress, least=1, workers=workers, scheduler=scheduler)
    report = checkpoint_report(cases, model, model_path, FAULT_KIND_MODEL)
    if json_out:
        emit_json(report)
        return
    if report["in_sample_cases"]:
        say(f"WARNING: {model_path} was trained on {len(report['in_sample_cases'])} of these {len(cases)} cases "
            "(its manifest lists them): their scores are in-sample, shown apart, and are not evidence of how it "
            "does on unseen incidents")
    _print_scores(report)
    _print_fault_kind(report.get("fault_kind_classifier"))


def _print_fault_kind(report: dict | None) -> None:
    """The fault type the agents act on: the saved classifier at the true root causes, next to T3's above."""
    if not report or not report["variants"]:
        return
    rows = [{"variant": name, "system": system, "cases": scores["cases"], "type_acc": scores["accuracy"],
             "type_macro_f1": v["macro_f1"] if system == "all" else None}
            for name, v in report["variants"].items()
            for system, scores in [("all", v), *v["per_system"].items()]]
    print_table(rows, ["variant", "system", "cases", "type_acc", "type_macro_f1"],
                title=f"fault type the agents use: {report['classifier']} at the true root cause")
    for name, variant in report["variants"].items():
        print_confusion(variant["confusion"], f"{name}: fault-kind classifier confusion (columns: guessed type)")


def _print_scores(report: dict) -> None:
    rows = []
    for name, variant in report["variants"].items():
        types = variant["fault_type"] or {}  # none when each fold leaves a fault type out
        for system, scores in variant["ranking"].items():
            rows.append({"variant": name, "system": system, **scores,
                         "type_acc": types.get("accuracy") if system == "all" else None,
                         "type_macro_f1": types.get("macro_f1") if system == "all" else None})
    columns = ["variant", "system", "AC@1", "AC@3", "Avg@5", "cases", "type_acc", "type_macro_f1"]
    print_table(rows, columns, title=f"TAMO, {report['scheme']}")
    by_type = [{"variant": name, "system / fault type": group, **scores} for name, variant in report["variants"].items()
               for group, scores in variant.get("ranking_by_fault_type", {}).items() if group != "all"]
    if by_type:
        print_table(by_type, ["variant", "system / fault type", "AC@1", "AC@3", "Avg@5", "cases"],
                    title="where T2 ranks right and wrong, per system and fault type")
    for name, variant in report["variants"].items():
        if variant["fault_type"] is None:
            say(f"{name}: no fault-type score (each fold holds out a type its T3 never saw)")
            continue
        print_confusion(variant["fault_type"]["confusion"], f"{name}: fault-type confusion (columns: guessed type)")
