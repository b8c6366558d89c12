"""Cross-validated scores: k folds over cases (stratified by system) or leave-one-system-out; a model is
never tested on a case it was trained on."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from engine.evaluation.metrics import ac_at_k, accuracy, avg_at_k, confusion_matrix, macro_f1
from engine.tamo.dataset import LabelledCase
from engine.tamo.model import Inference, Progress, TrainConfig, train_model


def folds_by_case(cases: list[LabelledCase], k: int) -> list[list[int]]:
    """k folds; within each system, cases are dealt round-robin in case-id order."""
    folds: list[list[int]] = [[] for _ in range(k)]
    by_system = defaultdict(list)
    for i, case in enumerate(cases):
        by_system[case.features.system].append(i)
    for members in by_system.values():
        for position, i in enumerate(sorted(members, key=lambda m: cases[m].features.case_id)):
            folds[position % k].append(i)
    return [fold for fold in folds if fold]


def folds_by_system(cases: list[LabelledCase]) -> list[list[int]]:
    systems = sorted({case.features.system for case in cases})
    return [[i for i, case in enumerate(cases) if case.features.system == s] for s in systems]


def cross_validate(cases: list[LabelledCase], folds: list[list[int]], config: TrainConfig,
                   on_progress: Progress | None = None) -> list[tuple[LabelledCase, Inference]]:
    results = []
    for number, test in enumerate(folds, start=1):
        held = set(test)
        train = [case for i, case in enumerate(cases) if i not in held]
        model = train_model(train, replace(config), _prefixed(on_progress, f"fold {number}/{len(folds)}"))
        results.extend((cases[i], model.infer(cases[i].features)) for i in test)
    return results


def _prefixed(on_progress: Progress | None, prefix: str) -> Progress | None:
    if on_progress is None:
        return None
    return lambda done, total, what: on_progress(done, total, f"{prefix} {what}")


def rank_of(inference: Inference, truth: str) -> int:
    names = [entity for entity, _ in inference.ranking]
    return names.index(truth) if truth in names else len(names)


def ranking_scores(results: list[tuple[LabelledCase, Inference]]) -> dict[str, dict[str, float]]:
    """Per system and overall: AC@1, AC@3, Avg@5 (mean of AC@1..AC@5), number of cases."""
    groups = defaultdict(list)
    for case, inference in results:
        ranked = ([entity for entity, _ in inference.ranking], case.root_cause)
        groups[case.features.system].append(ranked)
        groups["all"].append(ranked)
    return {name: _ranking_row(members) for name, members in sorted(groups.items())}


def _ranking_row(members: list[tuple[list[str], str]]) -> dict[str, float]:
    rankings, truths = [ranking for ranking, _ in members], [truth for _, truth in members]
    return {"AC@1": round(ac_at_k(rankings, truths, 1), 4), "AC@3": round(ac_at_k(rankings, truths, 3), 4),
            "Avg@5": round(avg_at_k(rankings, truths, 5), 4), "cases": len(members)}


def fault_type_scores(results: list[tuple[LabelledCase, Inference]]) -> dict:
    """Accuracy, macro-F1 over the true classes, and the confusion matrix: true type -> {guessed type: cases}."""
    truth = [case.fault_type for case, _ in results]
    guess = [max(inference.fault_types, key=inference.fault_types.get) for _, inference in results]
    return {"accuracy": round(accuracy(truth, guess), 4), "macro_f1": round(macro_f1(truth, guess), 4),
            "cases": len(truth), "confusion": confusion_matrix(truth, guess)}


ABLATIONS: dict[str, Callable[[TrainConfig], TrainConfig]] = {
    "full": lambda c: c,
    "no_t1_raw_concat": lambda c: replace(c, use_t1=False),
    "time_domain_attention": lambda c: replace(c, domain="time"),
    "metrics_only": lambda c: replace(c, modalities=("metrics",)),
    "traces_only": lambda c: replace(c, modalities=("traces",)),
    "logs_only": lambda c: replace(c, modalities=("logs",)),
}


def evaluation_report(cases: list[LabelledCase], config: TrainConfig, folds: int = 5, scheme: str = "kfold",
                      ablations: tuple[str, ...] = ("full",), on_progress: Progress | None = None) -> dict:
    """Scores of each named ablation under one fold scheme ("kfold" over cases, or "loso")."""
    split = folds_by_system(cases) if scheme == "loso" else folds_by_case(cases, folds)
    report = {"scheme": scheme if scheme == "loso" else f"{len(split)}-fold over cases, stratified by system",
              "cases": len(cases), "seed": config.seed, "variants": {}}
    for name in ablations:
        results = cross_validate(cases, split, ABLATIONS[name](config), _prefixed(on_progress, name))
        report["variants"][name] = {
            "ranking": ranking_scores(results),
            "fault_type": fault_type_scores(results),
            "inference_ms_mean": round(1000 * float(np.mean([inference.seconds for _, inference in results])), 2),
            "misses": [{"case": case.features.case_id, "truth": case.root_cause, "rank": rank_of(inference, case.root_cause),
                        "top1": inference.ranking[0][0]} for case, inference in results if rank_of(inference, case.root_cause)],
        }
    return report


def checkpoint_report(cases: list[LabelledCase], model, checkpoint) -> dict:
    """A given checkpoint scored on `cases`: the out-of-sample ones (not in its manifest) and, apart and labelled,
    the in-sample ones; the same shape as :func:`evaluation_report`."""
    from engine.provenance import in_sample_cases, read_manifest

    seen = set(in_sample_cases(checkpoint, [case.features.case_id for case in cases]))
    results = [(case, model.infer(case.features)) for case in cases]
    report = {"scheme": f"checkpoint {checkpoint}" + ("" if read_manifest(checkpoint) else " (no manifest: "
              "cannot tell which cases it was trained on)"), "cases": len(cases),
              "in_sample_cases": sorted(seen), "variants": {}}
    for name, members in (("out-of-sample", [r for r in results if r[0].features.case_id not in seen]),
                          ("in-sample (trained on these)", [r for r in results if r[0].features.case_id in seen])):
        if members:
            report["variants"][name] = {"ranking": ranking_scores(members), "fault_type": fault_type_scores(members)}
    return report
