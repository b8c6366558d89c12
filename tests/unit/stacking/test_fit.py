"""The stacked ranker's fit: the padded, vectorised gradient ascent gives the weights of the plain per-case loop
it replaced (cases of different sizes, two systems with offsets, synthetic cases of a third system)."""
from __future__ import annotations

import random

import numpy as np
import pytest

import engine.stacking.ranker as ranker
from engine.stacking.ranker import CONFIDENT_FUSION, fit_ranker
from engine.stacking.tools import FEATURES, CaseTools


def _case(n: int, system: str, size: int) -> CaseTools:
    rng = random.Random(f"{system}{n}")
    entities = [f"svc-{i}" for i in range(size)]
    rows = [[rng.random() for _ in FEATURES] for _ in entities]
    return CaseTools(f"{system}-{n:02d}", system, "delay", rng.choice(entities), entities, rows, has_tamo=True)


def _loop_fit(cases, features, synthetic):
    """The per-case loop (the fit before it was vectorised), kept here as the reference."""
    systems = sorted({c.system for c in cases})
    weights = [1.0] * len(cases) + [ranker.SYNTHETIC_SHARE * len(cases) / len(synthetic)] * len(synthetic)
    data = [(c.features(features), c.entities.index(c.truth), weight,
             1 + systems.index(c.system) if c.system in systems else 0)
            for c, weight in zip([*cases, *synthetic], weights)]
    w = np.zeros((1 + len(systems), len(features)))
    total = sum(weight for _, _, weight, _ in data)
    for _ in range(ranker.STEPS):
        grad = -ranker.L2 * w
        for x, truth, weight, row in data:
            z = x @ (w[0] + w[row]) if row else x @ w[0]
            p = np.exp(z - z.max())
            p /= p.sum()
            step = weight * (x[truth] - p @ x) / total
            grad[0] += step
            if row:
                grad[row] += step
        w += ranker.LR * grad
    return w


def test_the_vectorised_fit_gives_the_per_case_loops_weights():
    real = [_case(n, system, size) for n in range(8) for system, size in (("A", 5), ("B", 9))]
    synthetic = [_case(n, "C", 3 + n % 4) for n in range(6)]
    fitted = fit_ranker(real, CONFIDENT_FUSION, synthetic)
    reference = _loop_fit(real, CONFIDENT_FUSION, synthetic)
    assert fitted.weights == pytest.approx(reference[0], abs=1e-5)
    assert fitted.by_system["A"] == pytest.approx(reference[1], abs=1e-5)
    assert fitted.by_system["B"] == pytest.approx(reference[2], abs=1e-5)
    assert max(abs(w) for w in fitted.by_system["B"]) > 0.01  # the offsets were fitted, not left at zero
