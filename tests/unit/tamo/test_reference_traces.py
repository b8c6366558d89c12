"""TAMO's reference trace statistics pool the reference minutes' spans: summarised per minute (cached), they are
the same as over the spans pooled, also when a call's client span and its callee's span fall in two minutes."""
from __future__ import annotations

from engine.tamo.traces import _reference_stats
from engine.telemetry.model import ReferenceMinute, Span


def _call(trace: str, minute: int, split: bool) -> list[tuple[int, Span]]:
    """front's client span (100 ms) waiting on one cart span (80 ms); `split`: the cart span is in the next minute."""
    start = 60.0 * minute
    return [(minute, Span(trace, f"{trace}-c", "", "front", "call cart", start + 59.0, 100.0)),
            (minute + split, Span(trace, f"{trace}-s", f"{trace}-c", "cart", "GetCart", start + 60.5, 80.0))]


def _minutes(split: bool) -> list[ReferenceMinute]:
    placed = [pair for k in range(3) for pair in _call(f"t{k}", 0, split)] + \
             [pair for k in range(3, 6) for pair in _call(f"t{k}", 1, False)]
    return [ReferenceMinute(f"m{m}", tuple(span for at, span in placed if at == m)) for m in (0, 1)]


def test_a_call_split_across_two_minutes_is_charged_as_in_the_pooled_spans():
    for split in (False, True):
        stats = _reference_stats(_minutes(split))
        assert stats["own"] == {("cart", "wait:front call cart"): 20.0, ("cart", "GetCart"): 80.0}, split
        assert stats["edge"] == {("front", "cart"): 80.0}
        assert stats["calls"][("front", "call cart")] == 1.0  # every client span called out
