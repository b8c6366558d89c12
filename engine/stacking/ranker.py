"""A small listwise logistic ranker over the tools' per-entity scores (a conditional logit: within a case,
P(entity is the root cause) = softmax(w . x)). Fitted only on the cases it is given; saved as JSON beside a
manifest naming those cases, so a score on one of them is flagged in-sample.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.stacking.tools import CONFIDENCE, FEATURES, TAMO_FEATURES, CaseTools

NO_TAMO = tuple(f for f in FEATURES if f not in TAMO_FEATURES)
RANK_FUSION = ("fused", "fused_rank", "tamo", "tamo_rank")  # four weights: the fused statistics and TAMO T2
# and two that say when the statistics are sure: their top entity's lead, and the callers' wait on an entity (the
# mark of a network fault, a type TAMO T2 never trained on where the dev data lack it)
CONFIDENT_FUSION = (*RANK_FUSION, "standing:wait", "fused_lead")
FEATURE_SETS = {"heuristic tools": NO_TAMO, "heuristics + TAMO T2": FEATURES, "fused + TAMO T2": RANK_FUSION,
                "fused + TAMO T2 + confidence": CONFIDENT_FUSION}
DEFAULT_SET = "fused + TAMO T2 + confidence"  # what `--save-stacker` fits when T2 is out of sample everywhere
DEFAULT_METHOD = f"stacked ({DEFAULT_SET})"
L2 = 0.05
STEPS = 400
LR = 0.5
SYNTHETIC_SHARE = 0.5  # synthetic training cases (`rca-tui synth`) together weigh half as much as the real ones


@dataclass
class StackedRanker:
    features: tuple[str, ...]
    weights: list[float]
    trained_on: list[str] = field(default_factory=list)

    def scores(self, case: CaseTools) -> np.ndarray:
        return case.features(self.features) @ np.asarray(self.weights)

    @property
    def uses_tamo(self) -> bool:
        return any(f in TAMO_FEATURES for f in self.features)

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
        unknown = [f for f in raw["features"] if f not in FEATURES + CONFIDENCE]
        if unknown:
            raise ValueError(f"unknown features {unknown}")
        return StackedRanker(tuple(raw["features"]), [float(w) for w in raw["weights"]], list(raw["trained_on"]))
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: not a stacked ranker ({type(exc).__name__}: {exc}); expected JSON with kind "
                         f"'stacked-ranker', features and weights (write one with `rca-tui eval rca --train DIR "
                         f"--save-stacker FILE`)") from exc


def fit_ranker(cases: list[CaseTools], features: tuple[str, ...] | None = None,
               synthetic: Sequence[CaseTools] = ()) -> StackedRanker:
    """Maximise the weighted mean log-probability of the labelled root cause (L2-regularised), by gradient ascent;
    the `synthetic` cases together weigh SYNTHETIC_SHARE of the real `cases`. `trained_on` names the real ones (a
    synthetic folder's ids recur in others; its manifest lists them by folder)."""
    fitted = [*cases, *synthetic]
    out_of_sample = cases and all(c.has_tamo and not c.tamo_in_sample for c in fitted)
    features = features or (FEATURE_SETS[DEFAULT_SET] if out_of_sample else NO_TAMO)
    weights = [1.0] * len(cases) + [SYNTHETIC_SHARE * len(cases) / max(len(synthetic), 1)] * len(synthetic)
    data = [(c.features(features), c.entities.index(c.truth), weight) for c, weight in zip(fitted, weights)
            if c.truth in c.entities]
    w = np.zeros(len(features))
    if not data:
        return StackedRanker(features, w.tolist(), [c.case_id for c in cases])
    total = sum(weight for _, _, weight in data)
    for _ in range(STEPS):
        grad = -L2 * w
        for x, truth, weight in data:
            z = x @ w
            p = np.exp(z - z.max())
            p /= p.sum()
            grad += weight * (x[truth] - p @ x) / total
        w += LR * grad
    return StackedRanker(features, [round(float(v), 6) for v in w], [c.case_id for c in cases])
