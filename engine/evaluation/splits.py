"""Which cases a model is fitted on and which it is scored on: one definition for every protocol, so TAMO trained
per fold and a stacked ranker fitted per fold hold out exactly the same cases.

* ``kfold``                k folds over cases, dealt round-robin in case-id order within each system;
* ``cross-system``         fit on every other system, score one;
* ``leave-fault-type-out`` fit on every other fault type, score one (cases without a fault type, "?", are neither
                           fitted on nor scored).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

HELD_OUT_PROTOCOLS = ("kfold", "cross-system", "leave-fault-type-out")


@dataclass(frozen=True)
class CaseKey:
    case_id: str
    system: str
    fault_type: str  # "?" when the case has none


@dataclass(frozen=True)
class HeldOut:
    name: str
    train: tuple[str, ...]  # case ids
    test: tuple[str, ...]


def held_out_splits(cases: Sequence[CaseKey], protocol: str, folds: int = 5) -> list[HeldOut]:
    if protocol == "kfold":
        return _kfold(cases, folds)
    if protocol == "cross-system":
        return _group_out(cases, lambda c: c.system, "system")
    if protocol == "leave-fault-type-out":
        return _group_out(cases, lambda c: c.fault_type, "fault")
    raise ValueError(f"unknown protocol {protocol!r}; expected one of {', '.join(HELD_OUT_PROTOCOLS)}")


def _kfold(cases: Sequence[CaseKey], k: int) -> list[HeldOut]:
    dealt: list[list[str]] = [[] for _ in range(k)]
    by_system = defaultdict(list)
    for case in cases:
        by_system[case.system].append(case.case_id)
    for members in by_system.values():
        for position, case_id in enumerate(sorted(members)):
            dealt[position % k].append(case_id)
    ids = [c.case_id for c in cases]
    return [HeldOut(f"fold {i + 1}/{k}", tuple(c for c in ids if c not in fold), tuple(c for c in ids if c in fold))
            for i, fold in enumerate(map(set, dealt)) if fold]


def _group_out(cases: Sequence[CaseKey], key: Callable[[CaseKey], str], what: str) -> list[HeldOut]:
    groups = sorted({key(c) for c in cases if key(c) != "?"})
    if len(groups) < 2:
        return []
    return [HeldOut(f"{what}={g}", tuple(c.case_id for c in cases if key(c) not in (g, "?")),
                    tuple(c.case_id for c in cases if key(c) == g)) for g in groups]
