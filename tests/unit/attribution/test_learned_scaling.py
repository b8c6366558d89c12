"""A feature that never varied in training cannot decide a ranking at test time: its near-zero weight stays near
zero (divided by a spread of ~0, any value it never had would have outweighed every other feature)."""
from __future__ import annotations

import numpy as np

from engine.attribution.learned import LearnedConfig, fit_listwise


def test_a_feature_constant_in_training_does_not_move_the_ranking():
    rng = np.random.default_rng(0)
    lists = []
    for _ in range(12):
        rows = np.column_stack([rng.normal(size=5), np.zeros(5)])  # column 1 is 0 in every training row
        target = int(rows[:, 0].argmax())
        lists.append((rows, np.ones(5, dtype=bool), target))
    scorer = fit_listwise(lists, LearnedConfig(epochs=100))
    test = np.array([[2.0, 0.0], [0.0, 5.0]])
    assert scorer(test)[0] > scorer(test)[1]  # the informative column decides, not the never-seen value
    assert abs(scorer(test)[1] - scorer(np.array([[0.0, 0.0]]))[0]) < 0.1
