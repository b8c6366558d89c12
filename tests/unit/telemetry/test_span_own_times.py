"""Each span's own time (its duration less its children's), charged to the callee when a client span only waits on
one other service."""
from __future__ import annotations

from engine.telemetry.model import Span
from engine.telemetry.spans import own_times


def _span(span_id: str, parent: str, entity: str, operation: str, duration_ms: float) -> Span:
    return Span("t", span_id, parent, entity, operation, 0.0, duration_ms)


def test_own_time_is_duration_less_children_and_a_remote_wait_is_charged_to_the_callee():
    spans = [_span("a", "", "front", "GET /", 100.0),
             _span("b", "a", "front", "call cart", 60.0),       # client span: its only child runs in cart
             _span("c", "b", "cart", "GetCart", 45.0),
             _span("d", "a", "front", "render", 10.0),
             _span("e", "d", "ads", "Ads", 4.0),                 # render calls two services: stays render's
             _span("f", "d", "cart", "GetCart", 5.0)]
    assert own_times(spans) == {("front", "GET /"): [30.0], ("cart", "wait:front call cart"): [15.0],
                                ("cart", "GetCart"): [45.0, 5.0], ("front", "render"): [1.0], ("ads", "Ads"): [4.0]}


def test_children_longer_than_their_parent_leave_it_no_negative_time():
    spans = [_span("a", "", "front", "GET /", 10.0), _span("b", "a", "front", "work", 7.0),
             _span("c", "a", "front", "more", 8.0)]
    assert own_times(spans)[("front", "GET /")] == [0.0]
