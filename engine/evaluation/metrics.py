"""Every score the evaluations report, as plain functions over plain data.

* RCA ranking: AC@k = share of cases whose labelled root cause is among the top k; Avg@k = mean of AC@1..AC@k.
* Fault-type classification: accuracy, macro-F1 over the true classes, the confusion matrix.
* Failure attribution (design 003, section 11.1): exact match is the headline: who = agent names equal
  (case-insensitive), when = step indices equal as integers; top-k when = the gold step among the k best-ranked
  steps. The upstream Who&When scorer's *substring* match is reported too, labelled as such: it counts a prediction
  correct when the gold text occurs inside the predicted text (gold step "1" matches a predicted "10", gold agent
  "Expert" matches "Verification_Expert").
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


# ---- RCA ranking --------------------------------------------------------------------------------------------------
def ac_at_k(rankings: Sequence[Sequence[str]], truths: Sequence[str], k: int) -> float:
    if not truths:
        return 0.0
    return sum(truth in list(ranking)[:k] for ranking, truth in zip(rankings, truths)) / len(truths)


def avg_at_k(rankings: Sequence[Sequence[str]], truths: Sequence[str], k: int) -> float:
    return sum(ac_at_k(rankings, truths, j) for j in range(1, k + 1)) / k


# ---- fault-type classification ------------------------------------------------------------------------------------
def accuracy(truth: Sequence[str], guess: Sequence[str]) -> float:
    return sum(t == g for t, g in zip(truth, guess)) / len(truth) if truth else 0.0


def macro_f1(truth: Sequence[str], guess: Sequence[str]) -> float:
    """Mean F1 over the classes that occur in ``truth``."""
    classes = sorted(set(truth))
    return float(np.mean([_f1(truth, guess, label) for label in classes])) if classes else 0.0


def confusion_matrix(truth: Sequence[str], guess: Sequence[str]) -> dict[str, dict[str, int]]:
    """Every label (true or guessed) as a row and a column, so the rows of a never-true label read zero."""
    labels = sorted(set(truth) | set(guess))
    matrix = {t: dict.fromkeys(labels, 0) for t in labels}
    for t, g in zip(truth, guess):
        matrix[t][g] += 1
    return matrix


def _f1(truth: Sequence[str], guess: Sequence[str], label: str) -> float:
    tp = sum(t == label and g == label for t, g in zip(truth, guess))
    fp = sum(t != label and g == label for t, g in zip(truth, guess))
    fn = sum(t == label and g != label for t, g in zip(truth, guess))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


# ---- failure attribution: who / when ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Prediction:
    trajectory_id: str
    who: str
    when: int
    ranked_steps: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Gold:
    who: str
    when: int


def who_exact(prediction: Prediction, gold: Gold) -> bool:
    return prediction.who.strip().lower() == gold.who.strip().lower()


def when_exact(prediction: Prediction, gold: Gold) -> bool:
    return int(prediction.when) == int(gold.when)


def when_top_k(prediction: Prediction, gold: Gold, k: int) -> bool:
    ranked = prediction.ranked_steps or [prediction.when]
    return int(gold.when) in [int(step) for step in ranked[:k]]


def who_substring_upstream(prediction: Prediction, gold: Gold) -> bool:
    return gold.who in prediction.who


def when_substring_upstream(prediction: Prediction, gold: Gold) -> bool:
    return str(gold.when) in str(prediction.when)


def who_when_scores(predictions: list[Prediction], golds: list[Gold], ks: tuple[int, ...] = (3, 5)) -> dict[str, float]:
    """Accuracies over paired predictions and gold labels (fractions in [0, 1], rounded to 4 places)."""
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions for {len(golds)} gold labels")
    n = len(golds)
    pairs = list(zip(predictions, golds))

    def rate(check) -> float:
        return round(sum(check(p, g) for p, g in pairs) / n, 4) if n else 0.0

    summary = {"n": n, "who": rate(who_exact), "when": rate(when_exact)}
    summary.update({f"when_top{k}": rate(lambda p, g, k=k: when_top_k(p, g, k)) for k in ks})
    summary["who_substring_upstream"] = rate(who_substring_upstream)
    summary["when_substring_upstream"] = rate(when_substring_upstream)
    return summary
