"""Who / when accuracy (design 003, section 11.1).

Exact match is the headline: who = agent names equal (case-insensitive), when = step indices equal as integers;
top-k when = the gold step among the k best-ranked steps. The upstream Who&When scorer's *substring* match is
reported too, labelled as such: it counts a prediction correct when the gold text occurs inside the predicted text
(gold step "1" matches a predicted "10", gold agent "Expert" matches "Verification_Expert").
"""
from __future__ import annotations

from dataclasses import dataclass, field


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


def summarize(predictions: list[Prediction], golds: list[Gold], ks: tuple[int, ...] = (3, 5)) -> dict[str, float]:
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
