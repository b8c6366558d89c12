"""The generalisation protocol: every tuned or trained ranker is scored only on cases it was not fitted on.

Splits over a list of :class:`CaseTools` (the tools' per-entity scores, computed once per case), as
:mod:`engine.evaluation.splits` defines them (kfold, cross-system, leave-fault-type-out), or ``train-test``: fit on
one folder, score another (``synthetic`` is this with a synthetic training folder).

Rows: trivial rankers (random; the single signal that was best on the training cases), the current statistical
ranking (no fitting), TAMO T2 alone, and stacked rankers fitted on the training split (heuristic tools only;
with TAMO T2 when every case of the split has an out-of-sample T2 score). TAMO T2 is out of sample either from a
checkpoint whose manifest does not list the case, or from :func:`tamo_out_of_fold`: one TAMO trained per split, on
the same cases as the stacker. The figures are pooled over the test folds.
"""
from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.evaluation.fault_type import SyntheticRecipe
from engine.evaluation.fault_type import examples as fault_type_examples
from engine.evaluation.fault_type import train as train_fault_kind
from engine.evaluation.metrics import ac_at_k, avg_at_k
from engine.evaluation.tamo import (ExtraTraining, Fold, cross_validate, fault_type_scores, fold_checkpoint,
                                   protocol_folds)
from engine.evaluation.splits import HELD_OUT_PROTOCOLS, CaseKey, held_out_splits
from engine.stacking.ranker import DEFAULT_SET, FEATURE_SETS, fit_ranker, needs_tamo
from engine.stacking.tools import FEATURES, CaseTools, with_tamo
from engine.tamo.dataset import LabelledCase
from engine.tamo.model import Inference, TrainConfig

PROTOCOLS = (*HELD_OUT_PROTOCOLS, "synthetic", "train-test")
SINGLE_SIGNALS = tuple(f for f in FEATURES if f.startswith("standing:"))
Split = tuple[str, list[CaseTools], list[CaseTools]]  # (name, train, test)
STATISTICAL = "statistical ranking (current)"
TAMO_ALONE = "TAMO T2 alone"


def splits_for(protocol: str, cases: list[CaseTools], train: list[CaseTools] | None = None,
               folds: int = 5) -> list[Split]:
    if protocol in ("synthetic", "train-test"):
        if not train:
            raise ValueError(f"protocol {protocol} needs a training folder (--train DIR)")
        return [(protocol, train, cases)]
    if protocol not in HELD_OUT_PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")
    by_id = {c.case_id: c for c in cases}
    return [(split.name, [by_id[c] for c in split.train], [by_id[c] for c in split.test]) for split in
            held_out_splits([CaseKey(c.case_id, c.system, c.fault_type) for c in cases], protocol, folds)]


# ---- rankers: (train, test case) -> ranking, or None when the ranker cannot score that case out of sample -------
def _random(seed: int):
    def rank(train, case: CaseTools):
        order = list(case.entities)
        random.Random(f"{seed}:{case.case_id}").shuffle(order)
        return order
    return rank


def _by_column(name: str, case: CaseTools) -> list[str]:
    column = case.column(name)
    return [case.entities[i] for i in sorted(range(len(case.entities)), key=lambda i: (-column[i], i))]


def best_single_signal(train: list[CaseTools]) -> str:
    """The modality whose own ranking has the best AC@1 on the training cases (ties: the first listed)."""
    return max(SINGLE_SIGNALS, key=lambda f: ac_at_k([_by_column(f, c) for c in train], [c.truth for c in train], 1))


def _tamo_out_of_sample(case: CaseTools) -> bool:
    return case.has_tamo and not case.tamo_in_sample


def evaluate_split(split: Split, seed: int = 0,
                   synthetic: Sequence[CaseTools] = ()) -> dict[str, list[tuple[CaseTools, list[str] | None]]]:
    """Every ranker's rankings of the split's test cases; the stacked ones also fitted on `synthetic` cases."""
    name, train, test = split
    signal = best_single_signal(train) if train else SINGLE_SIGNALS[0]
    with_tamo = bool(train) and all(_tamo_out_of_sample(c) for c in train + test)
    out = {
        f"random (seed {seed})": [(c, _random(seed)(train, c)) for c in test],
        "single signal (best on train)": [(c, _by_column(signal, c)) for c in test],
        STATISTICAL: [(c, list(c.entities)) for c in test],
        TAMO_ALONE: [(c, _by_column("tamo_rank", c) if _tamo_out_of_sample(c) else None)  # T2's own order
                     for c in test],
    }
    for label, features in FEATURE_SETS.items():
        if with_tamo or not needs_tamo(features):
            stacked = fit_ranker(train, features, synthetic)
            out[f"stacked ({label})"] = [(c, stacked.rank(c)) for c in test]
    return out


def pooled_results(protocol: str, cases: list[CaseTools], train: list[CaseTools] | None = None, folds: int = 5,
                   seed: int = 0, synthetic: Sequence[CaseTools] = ()) -> dict[str, list[tuple[CaseTools,
                                                                                             list[str] | None]]]:
    """Every ranker's out-of-sample ranking of every scored case, pooled over the protocol's splits (the stacked
    rankers of every split also fitted on the `synthetic` cases)."""
    pooled: dict[str, list[tuple[CaseTools, list[str] | None]]] = defaultdict(list)
    for split in splits_for(protocol, cases, train, folds):
        for method, results in evaluate_split(split, seed, synthetic).items():
            pooled[method].extend(results)
    return pooled


def run_protocol(protocol: str, cases: list[CaseTools], train: list[CaseTools] | None = None, folds: int = 5,
                 seed: int = 0) -> list[dict]:
    """Pooled out-of-sample rows: one per ranker x system (and 'all')."""
    return table_rows(protocol, pooled_results(protocol, cases, train, folds, seed))


def table_rows(protocol: str, pooled: dict[str, list[tuple[CaseTools, list[str] | None]]]) -> list[dict]:
    rows = []
    for method, results in pooled.items():
        groups = defaultdict(list)
        for case, ranking in results:
            groups["all"].append((case, ranking))
            groups[case.system].append((case, ranking))
        for system, members in sorted(groups.items(), key=lambda kv: kv[0] != "all"):
            rows.append(score_row(protocol, method, system, members))
    return rows


def score_row(protocol: str, method: str, system: str,
              members: Sequence[tuple[CaseTools, list[str] | None]]) -> dict:
    scored = [(c, r) for c, r in members if r is not None]
    rankings, truths = [r for _, r in scored], [c.truth for c, _ in scored]
    skipped = len(members) - len(scored)
    return {"protocol": protocol, "method": method, "system": system, "cases": len(scored),
            "AC@1": round(ac_at_k(rankings, truths, 1), 4) if scored else None,
            "AC@3": round(ac_at_k(rankings, truths, 3), 4) if scored else None,
            "Avg@5": round(avg_at_k(rankings, truths, 5), 4) if scored else None,
            "note": f"{skipped} cases not scored (no out-of-sample TAMO score: in the checkpoint's manifest or "
                    "no checkpoint)" if skipped else ""}


def case_positions(pooled: dict[str, list[tuple[CaseTools, list[str] | None]]]) -> list[dict]:
    """Where each ranker put each case's root cause out of sample: one row per case (in the order scored) with its
    label and, per ranker that scored it, the root cause's 1-based position (None: not in that ranking)."""
    rows: dict[str, dict] = {}
    for method, results in pooled.items():
        for case, ranking in results:
            row = rows.setdefault(case.case_id, {"case_id": case.case_id, "system": case.system,
                                                 "fault_type": case.fault_type, "truth": case.truth,
                                                 "positions": {}})
            if ranking is not None:
                row["positions"][method] = ranking.index(case.truth) + 1 if case.truth in ranking else None
    return list(rows.values())


def per_fault_rows(protocol: str, pooled: dict[str, list[tuple[CaseTools, list[str] | None]]],
                   method: str) -> list[dict]:
    """Where a ranker fails: its pooled AC@1 per system x fault type."""
    groups = defaultdict(list)
    for case, ranking in pooled.get(method, []):
        groups[f"{case.system} / {case.fault_type}"].append((case, ranking))
    return [score_row(protocol, method, name, members) for name, members in sorted(groups.items())]


def tamo_out_of_fold(protocol: str, scored: Path, cases: list[CaseTools], labelled: list[LabelledCase],
                     train_dir: Path | None = None, train_cases: list[CaseTools] | None = None,
                     train_labelled: list[LabelledCase] | None = None, folds: int = 5, cache_dir: Path | None = None,
                     workers: int = 1, scheduler: str | None = None, on_progress=None,
                     config: TrainConfig | None = None,
                     extra: ExtraTraining | None = None) -> tuple[list[CaseTools], list[CaseTools] | None, dict]:
    """`cases` (and `train_cases`) with TAMO T2's columns from models that never saw them: one TAMO trained per
    split of the protocol (train-test / synthetic: on the whole training folder for the scored cases, k-fold within
    it for the training cases); cached per fold. Also T3's fault-type scores on the same held-out cases.
    `labelled` / `train_labelled`: the folders' TAMO features (:func:`dataset_features`), read once for every
    protocol. `extra`: cases every split's TAMO also trains on (never scored)."""
    config = config or TrainConfig()
    train_results = []
    if protocol in HELD_OUT_PROTOCOLS:
        folds_of = protocol_folds(labelled, protocol, folds, fold_source(protocol, scored, train_dir), extra)
    else:
        train_results = cross_validate(protocol_folds(train_labelled, "kfold", folds, _source(train_dir), extra),
                                       config, on_progress, cache_dir, workers, scheduler)
        folds_of = [Fold(protocol, train_labelled, labelled, fold_source(protocol, scored, train_dir),
                         extra or ExtraTraining())]
    results = cross_validate(folds_of, config, on_progress, cache_dir, workers, scheduler)
    # leaving a fault type out, T3 cannot name the held-out type: no fault-type score there
    typed = [(case, inference) for case, inference in results if case.fault_type
             and protocol != "leave-fault-type-out"]
    return (_attach(cases, results), _attach(train_cases, train_results) if train_cases else None,
            fault_type_scores(typed) if typed else {})


@dataclass
class Consensus:
    """The agents' out-of-sample results of one protocol: each held-out case's consensus ranking (None when its run
    failed), the fault-type scores of the type each plan went by (None when no case's label has one), and one row
    per held-out case (:func:`consensus_row`)."""

    rankings: list[tuple[CaseTools, list[str] | None]]
    fault_type: dict | None
    cases: list[dict]


def consensus_row(split: str, case: dict) -> dict:
    """What the consensus said on one held-out case (a case of :func:`engine.evaluation.rca.summarize`'s report)
    beside its label: the agreed root cause (None when the run failed or reached none) and fault type."""
    return {"split": split, "case_id": case["case_id"], "system": case["system"], "truth": case["truth"],
            "root_cause": case["ranking"][0] if case["ranking"] else None, "fault_type": case["fault_type"],
            "predicted_fault_type": case["predicted_fault_type"], "error": case["error"]}


def agents_out_of_sample(protocol: str, scored: Path, cases: list[CaseTools], labelled: list[LabelledCase],
                         train_dir: Path | None = None, train_cases: list[CaseTools] | None = None,
                         train_labelled: list[LabelledCase] | None = None, folds: int = 5,
                         cache_dir: Path | None = None, config: TrainConfig | None = None, workers: int = 1,
                         scheduler: str | None = None, on_progress=None, extra: ExtraTraining | None = None,
                         fault_kind_recipe: SyntheticRecipe = SyntheticRecipe(),
                         stacker_synthetic: Sequence[CaseTools] = ()) -> Consensus:
    """The seven agents' consensus on every held-out case, each split with its own TAMO (the checkpoint
    :func:`tamo_out_of_fold` trained without the split's test cases, with `extra`), the default stacked ranker
    fitted on the split's training cases, and the fault-kind classifier fitted on them too, plus
    `fault_kind_recipe`'s synthetic examples (`labelled` / `train_labelled`: the features of the scored / training
    folder's cases); every split's stacker also fitted on `stacker_synthetic`; without TAMO scores (`cache_dir`
    None), the agents' statistical ranking."""
    import tempfile

    from engine.evaluation.rca import case_fault_type_scores, evaluate_rca
    from engine.runs.batch import AgentRanking

    config = config or TrainConfig()
    source = fold_source(protocol, scored, train_dir)
    splits = splits_for(protocol, cases, train_cases, folds)
    fitted_on = labelled if protocol in HELD_OUT_PROTOCOLS else train_labelled or []
    rankings, scored_cases, rows = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for number, (name, train, test) in enumerate(splits, start=1):
            fold = _tamo_fold(name, train, test, fitted_on, labelled, source, extra)
            checkpoint = cache_dir and fold and fold_checkpoint(cache_dir, fold, config)
            stacker = fit_ranker(train, FEATURE_SETS[DEFAULT_SET], stacker_synthetic).save(
                Path(tmp) / f"stacker-{number}.json") if checkpoint else None
            classifier = split_fault_kind(train, fitted_on, extra, Path(tmp) / f"fault-kind-{number}.json",
                                          fault_kind_recipe)
            ranking = AgentRanking(str(Path(tmp) / "agents.db"), str(scored), str(checkpoint or "none"),
                                   str(stacker or "none"), str(classifier or "none"))
            progress = on_progress and (lambda done, total, result, name=name: on_progress(
                done, total, f"agents, {protocol} {name}: {result.case_id}"))
            report = evaluate_rca(str(scored), ranking, progress, [c.case_id for c in test], workers, scheduler)
            by_id = {case["case_id"]: case["ranking"] for case in report["cases"] if not case["error"]}
            rankings += [(c, by_id.get(c.case_id)) for c in test]
            scored_cases += report["cases"]
            rows += [consensus_row(name, case) for case in report["cases"]]
    return Consensus(rankings, case_fault_type_scores(scored_cases), rows)


def _tamo_fold(name: str, train: list[CaseTools], test: list[CaseTools], fitted_on: list[LabelledCase],
               scored: list[LabelledCase], source: str, extra: ExtraTraining | None) -> Fold | None:
    """The split as :func:`tamo_out_of_fold` trained its TAMO (the cases' features from `fitted_on` / `scored`), or
    None when a case has no features (no TAMO was trained for that split)."""
    train_features = {case.features.case_id: case for case in fitted_on}
    test_features = {case.features.case_id: case for case in scored}
    if any(c.case_id not in train_features for c in train) or any(c.case_id not in test_features for c in test):
        return None
    return Fold(name, [train_features[c.case_id] for c in train], [test_features[c.case_id] for c in test], source,
                extra or ExtraTraining())


def split_fault_kind(train: list[CaseTools], labelled: list[LabelledCase], extra: ExtraTraining | None,
                     path: Path, recipe: SyntheticRecipe = SyntheticRecipe()) -> Path | None:
    """The fault-kind classifier fitted on the split's training cases only (their features in `labelled`), with
    `recipe`'s synthetic examples and `extra`'s cases as `eval fault-type` takes --synthetic ones (weighted by
    `recipe.weight`), saved to `path`; None when no training case has a fault type."""
    ids = {c.case_id for c in train}
    real = fault_type_examples([case for case in labelled if case.features.case_id in ids])
    if not real:
        return None
    synthetic = [*recipe.examples, *(fault_type_examples(extra.cases) if extra else [])]
    return train_fault_kind(real, synthetic, recipe.weight).save(path)


def _attach(cases: list[CaseTools], results: list[tuple[LabelledCase, Inference]]) -> list[CaseTools]:
    by_id = {case.features.case_id: inference for case, inference in results}
    return [with_tamo(c, by_id[c.case_id].ranking) if c.case_id in by_id else c for c in cases]


def fold_source(protocol: str, scored: Path, train_dir: Path | None) -> str:
    """What a protocol's TAMO folds are trained and scored on, as their cache key names it: the scored folder,
    or training folder -> scored folder."""
    return _source(scored) if protocol in HELD_OUT_PROTOCOLS else f"{_source(train_dir)} -> {_source(scored)}"


def _source(folder: Path) -> str:
    return str(Path(folder).resolve())
