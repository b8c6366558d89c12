"""`rca-tui eval rca --protocol …` / `--train DIR --test DIR`: out-of-sample scores of every ranker in one table."""
from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from rca_tui.cli.common import ExitCode, emit_json, fail, invocation, print_confusion, print_table, say

ALL = ("kfold", "cross-system", "leave-fault-type-out")
CONSENSUS = "consensus (the seven agents)"


class FaultKindSynthetic(NamedTuple):
    """--fault-type-synthetic, --synthetic-weight, --synthetic-faults: the synthetic side of every split's
    fault-kind classifier, as `eval fault-type` trains it."""

    folders: list[Path] | None = None
    weight: str = "lacking"
    faults: str = "all"

    def given(self) -> str | None:
        """The first of these options given (None: all left at their defaults)."""
        defaults = FaultKindSynthetic()
        return next((option for option, value, default in zip(
            ("--fault-type-synthetic", "--synthetic-weight", "--synthetic-faults"), self, defaults)
            if value and value != default), None)


def protocol_names(protocol: str | None, train: Path | None) -> list[str]:
    from engine.evaluation.protocol import PROTOCOLS

    if not protocol:
        return ["train-test"]
    names = list(ALL) + (["synthetic"] if train else []) if protocol == "all" else protocol.split(",")
    for name in names:
        if name not in PROTOCOLS:
            fail(f"--protocol {name!r}: expected one of {', '.join(PROTOCOLS)} or 'all'", ExitCode.USAGE)
        if name in ("synthetic", "train-test") and train is None:
            fail(f"--protocol {name}: needs --train DIR (the folder to fit on; for synthetic, one made by "
                 "`rca-tui synth`)", ExitCode.USAGE)
    return names


def run_protocols(dataset: Path | None, protocol: str | None, train: Path | None, test: Path | None, folds: int,
                  tamo_model: str | None, save_stacker: Path | None, json_out: bool, progress, workers: int = 1,
                  scheduler: str | None = None, agents: bool = False, extra_train: list[Path] | None = None,
                  fault_kind: FaultKindSynthetic = FaultKindSynthetic(),
                  stacker_synthetic: list[Path] | None = None, synthetic_seeds: list[int] | None = None) -> None:
    """TAMO T2 is trained per split (cached) unless --tamo-model names a checkpoint or is 'none'; every split's
    TAMO also trains on the --extra-train folders' cases. With --agents, every split's fault-kind classifier also
    trains on `fault_kind`'s synthetic cases (and the --extra-train ones), weighted as it says. Every split's
    stacked rankers (and the saved one) also fit on the --stacker-synthetic folders' cases; each of `synthetic_seeds`
    adds the shipped recipe's folders of that seed (see recipe_folders) to both."""
    from engine.config import TAMO_CHECKPOINT, settings
    from engine.evaluation.protocol import (STATISTICAL, TAMO_ALONE, agents_out_of_sample, case_positions,
                                            per_fault_rows, pooled_results, table_rows, tamo_out_of_fold)
    from engine.parallel import ParallelError
    from engine.provenance import write_manifest
    from engine.stacking.ranker import DEFAULT_METHOD, fit_ranker
    from engine.stacking.tools import dataset_tools
    from engine.synth import SynthError
    from engine.tamo.dataset import dataset_features
    from engine.telemetry.errors import TelemetryError
    from rca_tui.cli.tamo import extra_cases

    scored = test or dataset
    if scored is None:
        fail("give the folder to score: --dataset DIR (or --test DIR with --train DIR)", ExitCode.USAGE)
    names = protocol_names(protocol, train)
    per_fold = tamo_model is None
    if extra_train and not per_fold:
        fail("--extra-train trains TAMO per split; --tamo-model must be left out", ExitCode.USAGE)
    checkpoint = None if per_fold else _checkpoint(tamo_model)
    for folder in filter(None, (scored, train)):
        if not folder.is_dir():
            fail(f"{folder}: not a folder; expected a dataset folder (Nezha, PetShop, mABC, or one made by "
                 "`rca-tui synth`)", ExitCode.USAGE)
    recipe = _fault_kind_recipe(fault_kind, agents)
    rows, where, fault_types, consensus_types, consensus_cases, positions, fitted = [], [], {}, {}, {}, {}, None
    extra = progress(lambda p: extra_cases(extra_train, [f for f in (scored, train) if f], p, workers, scheduler))
    try:
        cases = progress(lambda p: dataset_tools(scored, checkpoint, p))
        train_cases = progress(lambda p: dataset_tools(train, checkpoint, p)) if train else None
        if synthetic_seeds:
            folders = _recipe_folders(train or scored, train_cases or cases, synthetic_seeds, progress)
            stacker_synthetic = [*(stacker_synthetic or []), *folders]
            if agents:  # the given folders' examples are read already: only the seed's are added
                seeded = _fault_kind_recipe(fault_kind._replace(folders=folders), agents)
                fault_kind = fault_kind._replace(folders=[*(fault_kind.folders or []), *folders])
                recipe = replace(recipe, examples=recipe.examples + seeded.examples)
        synthetic = _stacker_synthetic(stacker_synthetic, TAMO_CHECKPOINT if per_fold else checkpoint,
                                       [f for f in (scored, train) if f], progress)
        stacker_extra = [case for folder in synthetic.values() for case in folder]
        if per_fold or agents:  # TAMO's (and the fault-kind classifier's) features, read once for every protocol
            labelled = progress(lambda p: dataset_features(scored, p, workers=workers, scheduler=scheduler))
            train_labelled = progress(lambda p: dataset_features(train, p, workers=workers, scheduler=scheduler)) \
                if train else None
        for name in names:
            scored_cases, training = cases, train_cases
            if per_fold:
                scored_cases, training, fault_types[name] = progress(lambda p: tamo_out_of_fold(
                    name, scored, cases, labelled, train, train_cases, train_labelled, folds, settings().oof_cache,
                    workers, scheduler, p, extra=extra))
            pooled = pooled_results(name, scored_cases, training, folds, synthetic=stacker_extra)
            if agents:
                consensus = progress(lambda p: agents_out_of_sample(
                    name, scored, scored_cases, labelled, train, training, train_labelled, folds,
                    settings().oof_cache if per_fold else None, workers=workers, scheduler=scheduler, on_progress=p,
                    extra=extra, fault_kind_recipe=recipe, stacker_synthetic=stacker_extra))
                pooled[CONSENSUS], consensus_types[name] = consensus.rankings, consensus.fault_type
                consensus_cases[name] = consensus.cases
            rows += table_rows(name, pooled)
            where += [row for method in (CONSENSUS, DEFAULT_METHOD) for row in per_fault_rows(name, pooled, method)]
            positions[name] = case_positions(pooled)
            fitted = fitted or (training or scored_cases)
    except (TelemetryError, ParallelError, SynthError) as exc:
        fail(f"--synthetic-seed: {exc}" if isinstance(exc, SynthError) else str(exc))
    extra_note = f" + {len(extra.cases)} extra training cases" if extra.cases else ""
    report = {"scored": str(scored), "train": str(train) if train else None,
              "extra_train": list(extra.folders), "stacker_synthetic": list(synthetic),
              "tamo": f"trained per split (out of fold){extra_note}" if per_fold else str(checkpoint) if checkpoint
              else "off",
              "tamo_in_sample_cases": sorted(c.case_id for c in cases if c.tamo_in_sample),
              "table": rows, "per_fault": where, "tamo_fault_type": fault_types,
              "consensus_fault_type": consensus_types, "consensus_cases": consensus_cases,
              "case_positions": positions,
              "fault_kind_synthetic": _recipe_provenance(fault_kind, recipe) if agents else None}
    if save_stacker:
        ranker = fit_ranker(fitted, synthetic=stacker_extra)
        path = ranker.save(save_stacker)
        write_manifest(path, invocation(), None, str(train or scored), ranker.trained_on,
                       [c.system for c in fitted], extra.manifest() + _synthetic_manifest(synthetic))
        report["stacker"] = {"path": str(path), "features": list(ranker.features), "weights": ranker.weights,
                             "by_system": ranker.by_system,
                             "tamo_scores": f"out of fold ({names[0]})" if per_fold and ranker.uses_tamo else None}
    if json_out:
        emit_json(report)
        return
    if report["tamo_in_sample_cases"]:
        say(f"TAMO checkpoint {checkpoint} was trained on {len(report['tamo_in_sample_cases'])} of these cases: "
            "its rows leave them out (in-sample), and the stacker uses TAMO only where every case is out of sample")
    print_table(rows, ["protocol", "method", "system", "cases", "AC@1", "AC@3", "Avg@5", "note"],
                title=f"Out-of-sample root-cause ranking on {scored}" + (f" (fitted on {train})" if train else "") +
                f"; TAMO T2: {report['tamo']}")
    print_table(where, ["protocol", "method", "system", "cases", "AC@1", "AC@3"], title="per system / fault type")
    shown = {"statistical": STATISTICAL, "TAMO T2": TAMO_ALONE, "stacked": DEFAULT_METHOD, "consensus": CONSENSUS}
    print_table(_missed(positions, shown), ["protocol", "case", "truth", *shown],
                title="cases some ranker did not put first (the root cause's position; - not in its ranking)")
    _print_fault_types(fault_types, "TAMO T3 fault type ({name}, out of fold)")
    synthetic_note = f", + {len(recipe.examples)} synthetic cases" if recipe.examples else ""
    _print_fault_types(consensus_types, "consensus fault type ({name}: the plans' type; fault-kind classifier "
                                        f"fitted per split{synthetic_note})")
    if save_stacker:
        say(f"stacked ranker fitted on {len(ranker.trained_on)} cases -> {path} (+ manifest)")


def _missed(positions: dict[str, list[dict]], shown: dict[str, str]) -> list[dict]:
    """One row per protocol x case that a ranker in `shown` (column -> method) did not rank first."""
    rows = []
    for protocol, cases in positions.items():
        for case in cases:
            found = {column: case["positions"][method] for column, method in shown.items()
                     if method in case["positions"]}
            if any(position != 1 for position in found.values()):
                rows.append({"protocol": protocol, "case": case["case_id"], "truth": case["truth"],
                             **{column: "-" if position is None else position for column, position in found.items()}})
    return rows


def _recipe_folders(fitted: Path, cases: list, seeds: list[int], progress) -> list[Path]:
    """The shipped recipe's synthetic folders (as `eval fault-type --synthetic-seed`) made from the `fitted` folder
    at its labelled `cases`' root causes, with each of `seeds`."""
    from engine.config import settings
    from engine.evaluation.fault_type import recipe_folders

    roots = [(case.system, case.truth) for case in cases if case.truth]
    return progress(lambda p: recipe_folders(fitted, roots, seeds, settings().cache_root / "synth", p))


def _stacker_synthetic(folders: list[Path] | None, checkpoint: Path | None, scored: list[Path],
                       progress) -> dict[str, list]:
    """The --stacker-synthetic folders' cases by folder, TAMO T2 scored by `checkpoint` (the shipped one when TAMO
    is trained per split: it never saw a synthetic case); refused for a folder that is also scored or fitted."""
    from engine.stacking.tools import dataset_tools

    out = {}
    for folder in folders or []:
        if not folder.is_dir():
            fail(f"--stacker-synthetic {folder}: not a folder; expected one made by `rca-tui synth`", ExitCode.USAGE)
        if folder.resolve() in {s.resolve() for s in scored}:
            fail(f"--stacker-synthetic {folder}: also a folder that is scored or fitted", ExitCode.USAGE)
        out[str(folder.resolve())] = progress(lambda p, folder=folder: dataset_tools(folder, checkpoint, p))
    return out


def _synthetic_manifest(synthetic: dict[str, list]) -> list[dict]:
    """The stacker's synthetic training folders as its manifest lists them: how each was made, and its cases."""
    from engine.stacking.ranker import SYNTHETIC_SHARE
    from engine.synth.provenance import how_made

    return [{"folder": folder, "made_by": how_made(Path(folder)), "cases": sorted(c.case_id for c in cases),
             "joins": f"the stacked ranker's fit (together weighing {SYNTHETIC_SHARE} of the real cases)"}
            for folder, cases in synthetic.items()]


def _fault_kind_recipe(fault_kind: FaultKindSynthetic, agents: bool):
    """The SyntheticRecipe of every split's fault-kind classifier; refused without --agents (no classifier)."""
    from rca_tui.cli.fault_type import fault_types, synthetic_recipe

    given = fault_kind.given()
    if given and not agents:
        fail(f"{given} shapes the agents' fault-kind classifier per split; add --agents", ExitCode.USAGE)
    return synthetic_recipe(fault_kind.folders, fault_kind.weight, fault_types(fault_kind.faults),
                            "--fault-type-synthetic")


def _recipe_provenance(fault_kind: FaultKindSynthetic, recipe) -> dict:
    """What the report's consensus fault type was trained with besides the split's real cases."""
    cases = Counter(f"{e.system} / {e.fault_type}" for e in recipe.examples)
    return {"folders": [str(folder.resolve()) for folder in fault_kind.folders or []],
            "synthetic_weight": fault_kind.weight, "synthetic_faults": fault_kind.faults,
            "cases": dict(sorted(cases.items()))}


def _print_fault_types(by_protocol: dict[str, dict | None], title: str) -> None:
    """Accuracy, macro-F1 and confusion per protocol; `title` names the protocol with {name}."""
    for name, types in by_protocol.items():
        if types:
            say(f"{title.format(name=name)}: accuracy {types['accuracy']}, macro-F1 {types['macro_f1']} "
                f"({types['cases']} cases)")
            print_confusion(types["confusion"], f"{name}: fault-type confusion (columns: guessed; - none)")


def _checkpoint(tamo_model: str) -> Path | None:
    from engine.config import TAMO_CHECKPOINT

    if tamo_model == "none":
        return None
    path = TAMO_CHECKPOINT if tamo_model == "default" else Path(tamo_model)
    if not path.is_file():
        fail(f"--tamo-model {tamo_model}: no checkpoint at {path}", ExitCode.NOT_FOUND)
    return path
