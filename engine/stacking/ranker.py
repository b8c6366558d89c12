"""A small listwise logistic ranker over the tools' per-entity scores (a conditional logit: within a case,
P(entity is the root cause) = softmax(w . x)). Fitted only on the cases it is given; saved as JSON beside a
manifest naming those cases, so a score on one of them is flagged in-sample.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.stacking.tools import FEATURES, CaseTools

NO_TAMO = tuple(f for f in FEATURES if not f.startswith("tamo"))
RANK_FUSION = ("fused", "fused_rank", "tamo", "tamo_rank")  # four weights: the fused statistics and TAMO T2
FEATURE_SETS = {"heuristic tools": NO_TAMO, "heuristics + TAMO T2": FEATURES, "fused + TAMO T2": RANK_FUSION}
DEFAULT_SET = "fused + TAMO T2"  # what `--save-stacker` fits when TAMO T2 is out of sample everywhere
DEFAULT_METHOD = f"stacked ({DEFAULT_SET})"
L2 = 0.05
STEPS = 400
LR = 0.5


@dataclass
class StackedRanker:
    features: tuple[str, ...]
    weights: list[float]
    trained_on: list[str] = field(default_factory=list)

    def scores(self, case: CaseTools) -> np.ndarray:
        x = case.matrix()[:, [FEATURES.index(f) for f in self.features]]
        return x @ np.asarray(self.weights)

    @property
    def uses_tamo(self) -> bool:
        return any(f.startswith("tamo") for f in self.features)

    def rank(self, case: CaseTools) -> list[str]:
        s = self.scores(case)
        order = sorted(range(len(case.entities)), key=lambda i: (-s[i], i))  # ties: the statistical order
        return [case.entities[i] for i in order]

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"kind": "stacked-ranker", "features": list(self.features),
                                    "weights": self.weights, "trained_on": self.trained_on}, indent=1) + "\n")
        return path


def load_ranker(path: Path) -> StackedRanker:
    try:
        raw = json.loads(Path(path).read_text())
        if raw.get("kind") != "stacked-ranker":
            raise KeyError("kind")
        unknown = [f for f in raw["features"] if f not in FEATURES]
        if unknown:
            raise ValueError(f"unknown features {unknown}")
        return StackedRanker(tuple(raw["features"]), [float(w) for w in raw["weights"]], list(raw["trained_on"]))
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: not a stacked ranker ({type(exc).__name__}: {exc}); expected JSON with kind "
                         f"'stacked-ranker', features and weights (write one with `rca-tui eval rca --train DIR "
                         f"--save-stacker FILE`)") from exc


def fit_ranker(cases: list[CaseTools], features: tuple[str, ...] | None = None) -> StackedRanker:
    """Maximise the mean log-probability of the labelled root cause (L2-regularised), by gradient ascent."""
    out_of_sample = cases and all(c.has_tamo and not c.tamo_in_sample for c in cases)
    features = features or (FEATURE_SETS[DEFAULT_SET] if out_of_sample else NO_TAMO)
    columns = [FEATURES.index(f) for f in features]
    data = [(c.matrix()[:, columns], c.entities.index(c.truth)) for c in cases if c.truth in c.entities]
    w = np.zeros(len(features))
    if not data:
        return StackedRanker(features, w.tolist(), [c.case_id for c in cases])
    for _ in range(STEPS):
        grad = -L2 * w
        for x, truth in data:
            z = x @ w
            p = np.exp(z - z.max())
            p /= p.sum()
            grad += (x[truth] - p @ x) / len(data)
        w += LR * grad
    return StackedRanker(features, [round(float(v), 6) for v in w], [c.case_id for c in cases])
