"""The generalisation protocol: every tuned or trained ranker is scored only on cases it was not fitted on.

Splits over a list of :class:`CaseTools` (the tools' per-entity scores, computed once per case):

* ``kfold``                k folds over cases, dealt round-robin within each system;
* ``cross-system``         fit on every other system, score one;
* ``leave-fault-type-out`` fit on every other fault type, score one (cases without a fault type are skipped);
* ``train-test``           fit on one folder, score another (``synthetic`` is this with a synthetic training folder).

Rows: trivial rankers (random; the single signal that was best on the training cases), the current statistical
ranking (no fitting), TAMO T2 from a checkpoint (only on cases its manifest does not list), and the stacked
ranker fitted on the training split. The figures are pooled over the test folds.
"""
from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np

from engine.evaluation.metrics import ac_at_k, avg_at_k
from engine.stacking.ranker import NO_TAMO, fit_ranker
from engine.stacking.tools import FEATURES, CaseTools

PROTOCOLS = ("kfold", "cross-system", "leave-fault-type-out", "synthetic", "train-test")
SINGLE_SIGNALS = tuple(f for f in FEATURES if f.startswith("standing:"))
Split = tuple[str, list[CaseTools], list[CaseTools]]  # (name, train, test)


def kfold_splits(cases: list[CaseTools], k: int = 5) -> list[Split]:
    folds: list[list[CaseTools]] = [[] for _ in range(k)]
    by_system = defaultdict(list)
    for case in cases:
        by_system[case.system].append(case)
    for members in by_system.values():
        for position, case in enumerate(sorted(members, key=lambda c: c.case_id)):
            folds[position % k].append(case)
    return [(f"fold {i + 1}/{k}", [c for c in cases if c not in fold], fold) for i, fold in enumerate(folds) if fold]


def group_out_splits(cases: list[CaseTools], key: Callable[[CaseTools], str], what: str) -> list[Split]:
    groups = sorted({key(c) for c in cases if key(c) != "?"})
    if len(groups) < 2:
        return []
    return [(f"{what}={g}", [c for c in cases if key(c) not in (g, "?")], [c for c in cases if key(c) == g])
            for g in groups]


def splits_for(protocol: str, cases: list[CaseTools], train: list[CaseTools] | None = None,
               folds: int = 5) -> list[Split]:
    if protocol == "kfold":
        return kfold_splits(cases, folds)
    if protocol == "cross-system":
        return group_out_splits(cases, lambda c: c.system, "system")
    if protocol == "leave-fault-type-out":
        return group_out_splits(cases, lambda c: c.fault_type, "fault")
    if protocol in ("synthetic", "train-test"):
        if not train:
            raise ValueError(f"protocol {protocol} needs a training folder (--train DIR)")
        return [(protocol, train, cases)]
    raise ValueError(f"unknown protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")


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


def evaluate_split(split: Split, seed: int = 0) -> dict[str, list[tuple[CaseTools, list[str] | None]]]:
    name, train, test = split
    signal = best_single_signal(train) if train else SINGLE_SIGNALS[0]
    with_tamo = bool(train) and all(_tamo_out_of_sample(c) for c in train + test)
    stacked = fit_ranker(train, NO_TAMO)
    out = {
        f"random (seed {seed})": [(c, _random(seed)(train, c)) for c in test],
        "single signal (best on train)": [(c, _by_column(signal, c)) for c in test],
        "statistical ranking (current)": [(c, list(c.entities)) for c in test],
        "TAMO T2 alone": [(c, _by_column("tamo", c) if _tamo_out_of_sample(c) else None) for c in test],
        "stacked (heuristic tools)": [(c, stacked.rank(c)) for c in test],
    }
    if with_tamo:
        full = fit_ranker(train, FEATURES)
        out["stacked (heuristics + TAMO T2)"] = [(c, full.rank(c)) for c in test]
    return out


def run_protocol(protocol: str, cases: list[CaseTools], train: list[CaseTools] | None = None, folds: int = 5,
                 seed: int = 0) -> list[dict]:
    """Pooled out-of-sample rows: one per ranker x system (and 'all')."""
    pooled: dict[str, list[tuple[CaseTools, list[str] | None]]] = defaultdict(list)
    for split in splits_for(protocol, cases, train, folds):
        for method, results in evaluate_split(split, seed).items():
            pooled[method].extend(results)
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


def per_fault_rows(protocol: str, cases: list[CaseTools], train: list[CaseTools] | None = None, folds: int = 5,
                   method: str = "stacked (heuristic tools)") -> list[dict]:
    """Where a ranker fails: its pooled AC@1 per system x fault type."""
    pooled = []
    for split in splits_for(protocol, cases, train, folds):
        pooled.extend(evaluate_split(split)[method])
    groups = defaultdict(list)
    for case, ranking in pooled:
        groups[f"{case.system} / {case.fault_type}"].append((case, ranking))
    return [score_row(protocol, method, name, members) for name, members in sorted(groups.items())]


def mean_weights(cases: list[CaseTools]) -> dict[str, float]:
    ranker = fit_ranker(cases, NO_TAMO)
    return dict(zip(ranker.features, np.round(ranker.weights, 3).tolist()))
