"""A small listwise logistic ranker over the tools' per-entity scores (a conditional logit: within a case,
P(entity is the root cause) = softmax(w . x)). Fitted only on the cases it is given; saved as JSON beside a
manifest naming those cases, so a score on one of them is flagged in-sample.

A tool's reliability depends on the system: TAMO T2 is only as good as the fault types its training saw there (the
dev Train-Ticket cases show three types, no network fault; the Online Boutique ones five, network delay among them).
So the weights are partially pooled: shared weights plus, for each system of the real training cases, an offset of
its own, both under the same L2 prior; a system with few cases keeps near the shared weights, and one never trained
on uses them alone.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.stacking.tools import DERIVED, FEATURES, TAMO_FEATURES, CaseTools

NO_TAMO = tuple(f for f in FEATURES if f not in TAMO_FEATURES)
RANK_FUSION = ("fused", "fused_rank", "tamo", "tamo_rank")  # four weights: the fused statistics and TAMO T2
# and two that say when the statistics are sure: their top entity's lead, and the callers' wait on an entity (the
# mark of a network fault, a type TAMO T2 never trained on where the dev data lack it)
CONFIDENT_FUSION = (*RANK_FUSION, "standing:wait", "fused_lead")
# the same, TAMO T2's columns counting for less in a case where callers wait on a service (tools.DERIVED)
WAIT_GATED_FUSION = ("fused", "fused_rank", "tamo_unless_wait", "tamo_rank_unless_wait", "standing:wait", "fused_lead")
FEATURE_SETS = {"heuristic tools": NO_TAMO, "heuristics + TAMO T2": FEATURES, "fused + TAMO T2": RANK_FUSION,
                "fused + TAMO T2 + confidence": CONFIDENT_FUSION,
                "fused + TAMO T2 unless waits + confidence": WAIT_GATED_FUSION}
DEFAULT_SET = "fused + TAMO T2 unless waits + confidence"  # what `--save-stacker` fits when T2 is out of sample
DEFAULT_METHOD = f"stacked ({DEFAULT_SET})"
L2 = 0.05
STEPS = 400
LR = 0.5
SYNTHETIC_SHARE = 0.5  # synthetic training cases (`rca-tui synth`) together weigh half as much as the real ones


def needs_tamo(features: Sequence[str]) -> bool:
    """Whether a ranker over these features needs TAMO T2's scores."""
    return any(f in TAMO_FEATURES for f in features)


@dataclass
class StackedRanker:
    features: tuple[str, ...]
    weights: list[float]
    trained_on: list[str] = field(default_factory=list)
    by_system: dict[str, list[float]] = field(default_factory=dict)  # system -> its offset to the shared weights

    def weights_for(self, system: str) -> np.ndarray:
        return np.asarray(self.weights) + np.asarray(self.by_system.get(system, 0.0))

    def scores(self, case: CaseTools) -> np.ndarray:
        return case.features(self.features) @ self.weights_for(case.system)

    @property
    def uses_tamo(self) -> bool:
        return needs_tamo(self.features)

    def rank(self, case: CaseTools) -> list[str]:
        s = self.scores(case)
        order = sorted(range(len(case.entities)), key=lambda i: (-s[i], i))  # ties: the statistical order
        return [case.entities[i] for i in order]

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"kind": "stacked-ranker", "features": list(self.features),
                                    "weights": self.weights, "by_system": self.by_system,
                                    "trained_on": self.trained_on}, indent=1) + "\n")
        return path


def load_ranker(path: Path) -> StackedRanker:
    try:
        raw = json.loads(Path(path).read_text())
        if raw.get("kind") != "stacked-ranker":
            raise KeyError("kind")
        unknown = [f for f in raw["features"] if f not in FEATURES + DERIVED]
        if unknown:
            raise ValueError(f"unknown features {unknown}")
        offsets = {system: [float(w) for w in ws] for system, ws in raw.get("by_system", {}).items()}
        if any(len(ws) != len(raw["features"]) for ws in [raw["weights"], *offsets.values()]):
            raise ValueError("weights and features differ in length")
        return StackedRanker(tuple(raw["features"]), [float(w) for w in raw["weights"]], list(raw["trained_on"]),
                             offsets)
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: not a stacked ranker ({type(exc).__name__}: {exc}); expected JSON with kind "
                         f"'stacked-ranker', features and weights (write one with `rca-tui eval rca --train DIR "
                         f"--save-stacker FILE`)") from exc


def fit_ranker(cases: list[CaseTools], features: tuple[str, ...] | None = None,
               synthetic: Sequence[CaseTools] = ()) -> StackedRanker:
    """Maximise the weighted mean log-probability of the labelled root cause (L2-regularised), by gradient ascent,
    over the shared weights and each real training system's offset; the `synthetic` cases together weigh
    SYNTHETIC_SHARE of the real `cases` (one of a system no real case has moves only the shared weights).
    `trained_on` names the real ones (a synthetic folder's ids recur in others; its manifest lists them by
    folder)."""
    fitted = [*cases, *synthetic]
    out_of_sample = cases and all(c.has_tamo and not c.tamo_in_sample for c in fitted)
    features = features or (FEATURE_SETS[DEFAULT_SET] if out_of_sample else NO_TAMO)
    systems = sorted({c.system for c in cases})
    weights = [1.0] * len(cases) + [SYNTHETIC_SHARE * len(cases) / max(len(synthetic), 1)] * len(synthetic)
    kept = [(c, weight) for c, weight in zip(fitted, weights) if c.truth in c.entities]
    w = _ascend(_Cases.of([c for c, _ in kept], features, systems), np.asarray([wt for _, wt in kept]),
               1 + len(systems))
    return StackedRanker(features, _rounded(w[0]), [c.case_id for c in cases],
                         {system: _rounded(w[1 + i]) for i, system in enumerate(systems)})


@dataclass(frozen=True)
class _Cases:
    """The fitted cases' features padded to one array: x [case, entity, feature], `real` marks the entities a case
    has, `truth` the root cause's row, `row` the case's offset row (0: none)."""
    x: np.ndarray
    real: np.ndarray
    truth: np.ndarray
    row: np.ndarray

    @classmethod
    def of(cls, cases: Sequence[CaseTools], features: tuple[str, ...], systems: list[str]) -> _Cases:
        width = max((len(c.entities) for c in cases), default=0)
        x = np.zeros((len(cases), width, len(features)))
        real = np.zeros((len(cases), width), dtype=bool)
        for i, c in enumerate(cases):
            x[i, :len(c.entities)] = c.features(features)
            real[i, :len(c.entities)] = True
        return cls(x, real, np.asarray([c.entities.index(c.truth) for c in cases], dtype=int),
                   np.asarray([_row(systems, c.system) for c in cases], dtype=int))


def _ascend(data: _Cases, weights: np.ndarray, rows: int) -> np.ndarray:
    """Gradient ascent (STEPS steps of LR) on the `weights`-weighted mean log-probability of every case's root
    cause minus L2/2 |w|^2; `rows` of the result: the shared weights, then each system's offset."""
    w = np.zeros((rows, data.x.shape[2]))
    if not len(weights):
        return w
    share = weights / weights.sum()
    picked = data.x[np.arange(len(share)), data.truth]
    for _ in range(STEPS):
        offset = np.where(data.row[:, None] > 0, w[data.row], 0.0)
        z = np.einsum("cef,cf->ce", data.x, w[0] + offset)
        z = np.where(data.real, z, -np.inf)
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        step = share[:, None] * (picked - np.einsum("ce,cef->cf", p, data.x))
        grad = -L2 * w
        grad[0] += step.sum(axis=0)
        np.add.at(grad, data.row, np.where(data.row[:, None] > 0, step, 0.0))
        w += LR * grad
    return w


def _row(systems: list[str], system: str) -> int:
    """The case's offset row in the fitted weights (0: none, a system no real training case has)."""
    return 1 + systems.index(system) if system in systems else 0


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 6) for v in values]
