"""Out-of-sample scores of the fault-kind classifier (engine.tamo.fault_kind), `rca-tui eval fault-type`.

Each split trains on its real training cases plus synthetic cases (`rca-tui synth`, when given: by default those of
the fault types none of the real training cases shows, at full weight; or every one at a reduced weight, see
:func:`synthetic_training`), and is scored on cases it never saw: k-fold and cross-system over the real
folder (the splits of :mod:`engine.evaluation.splits`, the same as TAMO's and the stacker's), and a synthetic test
folder generated with another seed (trained on every real case plus the training synthetic cases). Scored twice:
at the true root cause (the classifier alone) and at the top of the statistical ranking (no fitting, so out of
sample; what the agents see when the ranking is wrong is part of the figure).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from pathlib import Path

from engine.evaluation.metrics import accuracy, confusion_matrix, macro_f1
from engine.evaluation.splits import CaseKey, held_out_splits
from engine.provenance import covers, in_sample_cases
from engine.synth import SynthOptions, cached_synthesis
from engine.tamo.dataset import LabelledCase
from engine.tamo.fault_kind import FaultKindClassifier, entity_row, fit_classifier, load_classifier

PROTOCOLS = ("kfold", "cross-system")
LACKING, PER_TYPE = "lacking", "type"  # the --synthetic-weight choices besides a number
AT = ("true root cause", "top of the statistical ranking")


@dataclass(frozen=True)
class Example:
    case_id: str
    system: str
    fault_type: str
    at_truth: np.ndarray  # the entity row of the true root cause
    at_top: np.ndarray | None  # the entity row the statistical ranking puts first (None: no ranking given)
    folder: str = ""  # the dataset folder the case comes from
    root_cause: str = ""  # the true root cause entity


def examples(cases: Sequence[LabelledCase], top: dict[str, str] | None = None, folder: str = "") -> list[Example]:
    """One example per case with a fault type; `top`: case id -> the entity its ranking puts first."""
    out = []
    for case in cases:
        if not case.fault_type:
            continue
        first = (top or {}).get(case.features.case_id)
        out.append(Example(case.features.case_id, case.features.system, case.fault_type,
                           entity_row(case.features, case.root_cause),
                           entity_row(case.features, first) if first in case.features.entities else None, folder,
                           case.root_cause))
    return out


def lacking(real: Sequence[Example], synthetic: Sequence[Example]) -> list[Example]:
    """The synthetic examples of fault types none of the real examples has. The features are changes against
    each entity's own baseline, so one system's real cases teach a type to all; synthetic cases of a type the real
    ones also show would pull that type towards how the generator draws it (which is not how the real faults
    look: on the dev folders they cost k-fold accuracy)."""
    seen = {e.fault_type for e in real}
    return [e for e in synthetic if e.fault_type not in seen]


def synthetic_training(real: Sequence[Example], synthetic: Sequence[Example],
                       weight: str | float = LACKING) -> tuple[list[Example], list[float]]:
    """The synthetic examples a classifier trained on `real` also trains on, and each one's weight (a real
    example weighs 1): LACKING, those of the types no real example shows, at full weight; PER_TYPE, every one,
    all of a fault type's together weighing as much as one real example; a number, every one at that weight."""
    if weight == LACKING:
        chosen = lacking(real, synthetic)
        return chosen, [1.0] * len(chosen)
    if weight == PER_TYPE:
        count = Counter(e.fault_type for e in synthetic)
        return list(synthetic), [1.0 / count[e.fault_type] for e in synthetic]
    return list(synthetic), [float(weight)] * len(synthetic)


def recipe_folders(dataset: Path, roots: Iterable[tuple[str, str]], seeds: Sequence[int], cache: Path,
                   on_progress=None) -> list[Path]:
    """The synthetic training folders of the shipped recipe, made from `dataset` with each of `seeds` (engine.synth's
    cached_synthesis; several seeds are several draws of the recipe): per system of the real cases' `roots` (system,
    root-cause service), every fault type once at each service with a real fault there."""
    roots = set(roots)
    folders = []
    for seed in seeds:
        for system in sorted({system for system, _ in roots}):
            services = ",".join(sorted({root for other, root in roots if other == system}))
            options = SynthOptions(system, "all", services, 1, seed)
            folders.append(cached_synthesis(dataset, options, cache, on_progress or (lambda done, total, what: None)))
    return folders


@dataclass(frozen=True)
class SyntheticRecipe:
    """The synthetic side of a fault-kind classifier's training, as `eval fault-type` takes it: the examples of its
    --synthetic folders (of the --synthetic-faults types) and --synthetic-weight (see :func:`synthetic_training`).
    The default adds nothing."""

    examples: tuple[Example, ...] = ()
    weight: str | float = LACKING


def train(real: Sequence[Example], synthetic: Sequence[Example], weight: str | float = LACKING) -> FaultKindClassifier:
    extra, extra_weights = synthetic_training(real, synthetic, weight)
    chosen = list(real) + extra
    return fit_classifier(np.stack([e.at_truth for e in chosen]), [e.fault_type for e in chosen],
                          [e.case_id for e in real], np.array([1.0] * len(real) + extra_weights))


def protocol_report(real: Sequence[Example], synthetic: Sequence[Example], protocol: str,
                    folds: int = 5, weight: str | float = LACKING) -> dict:
    by_id = {e.case_id: e for e in real}
    scored = []
    for split in held_out_splits([CaseKey(e.case_id, e.system, e.fault_type) for e in real], protocol, folds):
        model = train([by_id[c] for c in split.train], synthetic, weight)
        scored += [(by_id[c], model) for c in split.test]
    return scores(protocol, scored)


def held_out_report(real: Sequence[Example], synthetic: Sequence[Example], test: Sequence[Example],
                    weight: str | float = LACKING) -> dict:
    """Trained on every real example and the synthetic ones `weight` chooses; scored on `test` (another
    folder)."""
    model = train(real, synthetic, weight)
    return scores("synthetic (another seed)", [(e, model) for e in test])


def saved_classifier_report(cases: Sequence[LabelledCase], path: Path) -> dict | None:
    """A saved classifier (by default the one the Solution Engineer asks) scored at the true root cause of the
    cases of systems it covers; the cases its manifest lists are scored apart (in-sample). None without one."""
    if not path.exists():
        return None
    model = load_classifier(path)
    covered = [e for e in examples(cases) if covers(path, e.system)]
    seen = set(in_sample_cases(path, [e.case_id for e in covered]))
    report = {"classifier": str(path), "variants": {}}
    for name, members in (("out-of-sample", [e for e in covered if e.case_id not in seen]),
                          ("in-sample (trained on these)", [e for e in covered if e.case_id in seen])):
        if members:
            report["variants"][name] = _summary([(e, model.predict(e.at_truth)) for e in members])
    return report


def scores(name: str, scored: Sequence[tuple[Example, FaultKindClassifier]]) -> dict:
    out = {"protocol": name, "at": {}}
    for where in AT:
        pairs = [(e, model.predict(row)) for e, model in scored
                 if (row := e.at_truth if where == AT[0] else e.at_top) is not None]
        out["at"][where] = _summary(pairs)
    return out


def _summary(pairs: Sequence[tuple[Example, str]]) -> dict:
    truth, guess = [e.fault_type for e, _ in pairs], [g for _, g in pairs]
    by_system = defaultdict(list)
    for e, g in pairs:
        by_system[e.system].append((e.fault_type, g))
    return {"cases": len(pairs), "accuracy": round(accuracy(truth, guess), 4),
            "macro_f1": round(macro_f1(truth, guess), 4),
            "per_system": {s: {"cases": len(p), "accuracy": round(accuracy(*zip(*p)), 4)}
                           for s, p in sorted(by_system.items())},
            "confusion": confusion_matrix(truth, guess)}
