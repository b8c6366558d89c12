"""Feature tensors for every case of a dataset, extracted once and cached on disk by case, feature config and
extraction code (:func:`engine.tamo.features.feature_key`).

The label is read here (never in `features`) and kept beside the features, for training and scoring only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from engine.telemetry import list_cases, load_case
from engine.config import settings
from engine.parallel import ordered_map
from engine.tamo.features import CaseFeatures, extract_features, feature_key, load_features, save_features

Progress = Callable[[int, int, str], None]  # (done, total, what)


@dataclass
class LabelledCase:
    features: CaseFeatures
    root_cause: str
    fault_type: str


def case_features(dataset: Path, case_id: str, cache_dir: Path | None = None) -> LabelledCase:
    path = Path(cache_dir or settings().tamo_cache) / f"{feature_key(dataset, case_id)}.npz"
    if path.exists():
        features, truth = load_features(path)
    else:
        incident = load_case(dataset, case_id)
        features = extract_features(incident)
        label = incident.label
        truth = {"root_cause": label.root_cause if label else "", "fault_type": (label.fault_type or "") if label else ""}
        save_features(path, features, truth)
    return LabelledCase(features, truth["root_cause"], truth["fault_type"])


def dataset_features(dataset: Path, on_progress: Progress | None = None, cache_dir: Path | None = None,
                     limit: int | None = None, workers: int = 1, scheduler: str | None = None) -> list[LabelledCase]:
    """Every labelled case's features; with `workers` > 1 or a Dask `scheduler` the cases are extracted in
    parallel (results in case order, so the same list as serially)."""
    refs = list_cases(dataset)[:limit]
    cases = []
    job = partial(case_features, dataset, cache_dir=cache_dir)
    for done, (ref, case) in enumerate(zip(refs, ordered_map(job, [r.case_id for r in refs], workers, scheduler)),
                                       start=1):
        cases.append(case)
        if on_progress:
            on_progress(done, len(refs), f"features {ref.case_id}")
    return [case for case in cases if case.root_cause in case.features.entities]
