"""`rca-tui eval fault-type`: the fault-kind classifier scored out of sample (k-fold, cross-system, synthetic)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rca_tui.cli.common import ExitCode, JsonOption, emit_json, fail, invocation, print_confusion, print_table, progress, say

SyntheticWeightOption = Annotated[str, typer.Option(
    "--synthetic-weight", help="Which synthetic cases join the fault-kind classifier's training, and how much each "
                               "weighs (a real case weighs 1): 'lacking' (those of the types no real training case "
                               "shows, at full weight), 'type' (every one; all of a type's together weigh one real "
                               "case) or a number (every one, at that weight).")]
SyntheticFaultsOption = Annotated[str, typer.Option(
    "--synthetic-faults", help="Comma list of the fault types taken from the synthetic folders (and `eval "
                               "fault-type --test`), e.g. the types the dataset's systems can have; 'all' takes "
                               "every type.")]


def eval_fault_type(
        dataset: Annotated[Path, typer.Option("--dataset", help="Labelled folder scored k-fold and cross-system.")],
        synthetic: Annotated[list[Path] | None, typer.Option(
            "--synthetic", help="Folder(s) from `rca-tui synth`: their cases join every training split, as "
                                "--synthetic-weight says (repeat).")] = None,
        synthetic_seed: Annotated[list[int] | None, typer.Option(
            "--synthetic-seed", help="Also train on the synthetic folders made from --dataset with this seed: per "
                                     "system, every fault type once at each service with a real fault there "
                                     "(`rca-tui synth --system S --services <those> --seed N`), generated once into "
                                     "$RCA_TUI_CACHE/synth. Repeat for several draws of the same recipe: "
                                     "--synthetic-weight still weighs each fault type's cases together.")] = None,
        synthetic_weight: SyntheticWeightOption = "lacking",
        synthetic_faults: SyntheticFaultsOption = "all",
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
    from engine.config import settings
    from engine.evaluation.fault_type import (PROTOCOLS, held_out_report, protocol_report, recipe_folders,
                                              synthetic_training, train)
    from engine.synth import SynthError
    from engine.telemetry.errors import TelemetryError

    for folder in [dataset, *(test or [])]:
        if not folder.is_dir():
            fail(f"{folder}: not a folder; expected a labelled dataset folder", ExitCode.USAGE)
    kinds = fault_types(synthetic_faults)
    _synthetic_weight(synthetic_weight)  # a usage error before any folder is read
    try:
        real = _examples(dataset)
        held_out = [e for folder in test or [] for e in _examples(folder, ranked=False) if e.fault_type in kinds]
        if synthetic_seed and real:
            with progress("synth") as advance:
                synthetic = [*(synthetic or []),
                             *recipe_folders(dataset, [(e.system, e.root_cause) for e in real], synthetic_seed,
                                            settings().cache_root / "synth", advance)]
    except (TelemetryError, SynthError) as exc:
        fail(f"--synthetic-seed: {exc}" if isinstance(exc, SynthError) else str(exc))
    if not real:
        fail(f"{dataset}: no case with a fault type", ExitCode.NOT_FOUND)
    recipe = synthetic_recipe(synthetic, synthetic_weight, kinds, "--synthetic")
    extra, weight = list(recipe.examples), recipe.weight
    reports = [protocol_report(real, extra, name, folds, weight) for name in PROTOCOLS]
    reports += [held_out_report(real, extra, held_out, weight)] if held_out else []
    used, weights = synthetic_training(real, extra, weight)
    result = {"dataset": str(dataset), "synthetic": [str(s) for s in synthetic or []],
              "synthetic_weight": synthetic_weight,
              "synthetic_used": _used(used, weights), "reports": reports}
    if save:
        result["saved"] = _save(save, train(real, extra, weight), dataset, real, used)
    if json_out:
        emit_json(result)
        return
    _print(result)


def synthetic_recipe(folders: list[Path] | None, weight: str, kinds: set[str], option: str):
    """The SyntheticRecipe of the synthetic `folders` (given with `option`, named in errors): their examples of the
    `kinds` fault types, weighted as --synthetic-weight `weight` says."""
    from engine.evaluation.fault_type import SyntheticRecipe
    from engine.telemetry.errors import TelemetryError

    for folder in folders or []:
        if not folder.is_dir():
            fail(f"{option} {folder}: not a folder; expected a labelled dataset folder such as one made by "
                 "`rca-tui synth`", ExitCode.USAGE)
    chosen = _synthetic_weight(weight)
    try:
        examples = [e for folder in folders or [] for e in _examples(folder, ranked=False) if e.fault_type in kinds]
    except TelemetryError as exc:
        fail(f"{option}: {exc}")
    return SyntheticRecipe(tuple(examples), chosen)


def _synthetic_weight(text: str) -> str | float:
    from engine.evaluation.fault_type import LACKING, PER_TYPE

    if text in (LACKING, PER_TYPE):
        return text
    try:
        weight = float(text)
    except ValueError:
        weight = -1.0
    if not 0 < weight <= 1:
        fail(f"--synthetic-weight {text}: expected '{LACKING}', '{PER_TYPE}' or a number in (0, 1]", ExitCode.USAGE)
    return weight


def _used(used, weights) -> list[str]:
    """Each system / fault type of the synthetic cases in training, with how many and their total weight."""
    totals: dict[str, list[float]] = {}
    for example, weight in zip(used, weights):
        totals.setdefault(f"{example.system} / {example.fault_type}", []).append(weight)
    return [f"{key} ({len(w)} cases, weight {sum(w):.2f})" for key, w in sorted(totals.items())]


def _save(path: Path, model, dataset: Path, real, used) -> str:
    """The classifier and its manifest: the real cases it was trained on, and each synthetic folder apart (how
    it was made, its cases: another seed's folder reuses the same case ids)."""
    from engine.provenance import write_manifest
    from engine.synth.provenance import how_made

    folders: dict[str, list[str]] = {}
    for example in used:
        folders.setdefault(example.folder, []).append(example.case_id)
    saved = model.save(path)
    write_manifest(saved, invocation(), None, str(dataset), model.trained_on, sorted({e.system for e in real}),
                   [{"folder": folder, "made_by": how_made(Path(folder)), "cases": sorted(cases)}
                    for folder, cases in folders.items()])
    return str(saved)


def fault_types(text: str) -> set[str]:
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
    return examples(cases, top, str(folder))


def _print(result: dict) -> None:
    say(f"synthetic cases in training (--synthetic-weight {result['synthetic_weight']}): "
        f"{', '.join(result['synthetic_used']) or 'none'}")
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
