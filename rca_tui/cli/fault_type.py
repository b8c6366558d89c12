"""`rca-tui eval fault-type`: the fault-kind classifier scored out of sample (k-fold, cross-system, synthetic)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rca_tui.cli.common import ExitCode, JsonOption, emit_json, fail, invocation, print_confusion, print_table, progress, say


def eval_fault_type(
        dataset: Annotated[Path, typer.Option("--dataset", help="Labelled folder scored k-fold and cross-system.")],
        synthetic: Annotated[list[Path] | None, typer.Option(
            "--synthetic", help="Folder(s) from `rca-tui synth`: their cases of the fault types no real training "
                                "case shows join every training split (repeat).")] = None,
        synthetic_faults: Annotated[str, typer.Option(
            "--synthetic-faults", help="Comma list of the fault types taken from --synthetic and --test, e.g. the "
                                       "types the dataset's systems can have; 'all' takes every type.")] = "all",
        test: Annotated[list[Path] | None, typer.Option(
            "--test", help="Folder(s) scored after training on all of --dataset (+ --synthetic), e.g. synthetic "
                           "cases of another seed, at the true root cause (repeat).")] = None,
        folds: Annotated[int, typer.Option("--folds", min=2, help="k for k-fold.")] = 5,
        save: Annotated[Path | None, typer.Option("--save", help="Train on all of --dataset (+ --synthetic) and "
                                                                 "save the classifier here (+ manifest).")] = None,
        json_out: JsonOption = False) -> None:
    """Fault type from which signals of the root-cause entity moved against its baseline (CPU, memory, latency,
    edge latency, span counts, log errors and templates): accuracy, macro-F1 and the confusion matrix, at the
    true root cause and at the top of the statistical ranking."""
    from engine.evaluation.fault_type import PROTOCOLS, held_out_report, lacking, protocol_report, train
    from engine.telemetry.errors import TelemetryError

    for folder in [dataset, *(synthetic or []), *(test or [])]:
        if not folder.is_dir():
            fail(f"{folder}: not a folder; expected a labelled dataset folder", ExitCode.USAGE)
    kinds = _fault_types(synthetic_faults)
    try:
        real = _examples(dataset)
        extra = [e for folder in synthetic or [] for e in _examples(folder, ranked=False) if e.fault_type in kinds]
        held_out = [e for folder in test or [] for e in _examples(folder, ranked=False) if e.fault_type in kinds]
    except TelemetryError as exc:
        fail(str(exc))
    if not real:
        fail(f"{dataset}: no case with a fault type", ExitCode.NOT_FOUND)
    reports = [protocol_report(real, extra, name, folds) for name in PROTOCOLS]
    reports += [held_out_report(real, extra, held_out)] if held_out else []
    result = {"dataset": str(dataset), "synthetic": [str(s) for s in synthetic or []],
              "synthetic_used": sorted({f"{e.system} / {e.fault_type}" for e in lacking(real, extra)}),
              "reports": reports}
    if save:
        from engine.provenance import write_manifest

        model = train(real, extra)
        path = model.save(save)
        write_manifest(path, invocation(), None, str(dataset), model.trained_on, sorted({e.system for e in real}))
        result["saved"] = str(path)
    if json_out:
        emit_json(result)
        return
    _print(result)


def _fault_types(text: str) -> set[str]:
    """--synthetic-faults as a set of the generator's fault types (all of them for 'all')."""
    from engine.synth import SynthError
    from engine.synth.catalog import FAULT_TYPES, parse_fault_types

    try:
        return set(parse_fault_types(text, frozenset().union(*(f.needs for f in FAULT_TYPES.values())), "--synthetic"))
    except SynthError as exc:
        fail(f"--synthetic-faults: {exc}", ExitCode.USAGE)


def _examples(folder: Path, ranked: bool = True):
    """The folder's examples; with `ranked`, also at the statistical ranking's first entity."""
    from engine.evaluation.fault_type import examples
    from engine.stacking.tools import dataset_tools
    from engine.tamo.dataset import dataset_features

    with progress(f"features {folder.name}") as advance:
        cases = dataset_features(folder, advance)
    top = None
    if ranked:
        with progress(f"ranking {folder.name}") as advance:
            top = {tools.case_id: tools.entities[0] for tools in dataset_tools(folder, None, advance) if tools.entities}
    return examples(cases, top)


def _print(result: dict) -> None:
    say(f"synthetic cases used in training (types no real case shows): {', '.join(result['synthetic_used']) or 'none'}")
    rows = [{"protocol": r["protocol"], "at": at, "cases": s["cases"], "accuracy": s["accuracy"],
             "macro-F1": s["macro_f1"], **{system: v["accuracy"] for system, v in s["per_system"].items()}}
            for r in result["reports"] for at, s in r["at"].items() if s["cases"]]
    systems = sorted({key for row in rows for key in row} - {"protocol", "at", "cases", "accuracy", "macro-F1"})
    print_table(rows, ["protocol", "at", "cases", "accuracy", "macro-F1", *systems],
                title="fault type, out of sample (fault-kind classifier)")
    for report in result["reports"]:
        print_confusion(report["at"]["true root cause"]["confusion"],
                        f"{report['protocol']}, at the true root cause: confusion (columns: guessed)")
    if "saved" in result:
        extra = " + the synthetic cases above" if result["synthetic_used"] else ""
        say(f"classifier trained on all of {result['dataset']}{extra} -> {result['saved']} (+ manifest)")
