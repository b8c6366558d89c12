"""A profile tallies its anchors once per kind of span, times the spans of that kind (issue 12: `eval rca` under 2
CPU-s a case); the pattern and blame signals read those tallies, so they must equal a count over every span."""

from __future__ import annotations

from collections import Counter, defaultdict

from engine.telemetry.profiles import profile_of, span_events


def _counted_span_by_span(spans, logs):
    """(anchor rates, each span's anchors) counted over every span, as profiles were before the kinds were tallied."""
    events = span_events(spans, logs)
    by_id = {span.span_id: span for span in spans}
    counts, seen, anchors_of = Counter(), defaultdict(Counter), []
    for span in spans:
        happened = events.get(span.span_id, frozenset())
        parent = by_id.get(span.parent_id)
        context = parent.operation if parent is not None and parent.entity == span.entity else ""
        logged = sorted(event for event in happened if event.startswith("log:"))
        anchors = ((span.entity, f"{context} > {span.operation}"), *((span.entity, event) for event in logged))
        anchors_of.append(anchors)
        for anchor in anchors:
            counts[anchor] += 1
            if happened:
                seen[anchor].update(happened - {anchor[1]})
    return {anchor: (n, {e: c / n for e, c in seen[anchor].items()}) for anchor, n in counts.items()}, anchors_of


def test_anchor_rates_tallied_per_kind_of_span_equal_a_count_over_every_span(demo_incident):
    for spans, logs in [(demo_incident.spans, demo_incident.logs),
                        *((minute.spans, minute.logs) for minute in demo_incident.reference)]:
        profile = profile_of(spans, logs)
        rates, anchors_of = _counted_span_by_span(list(spans), list(logs))
        assert profile.anchors == rates
        assert list(profile.anchors) == list(rates)  # anchors in order of first appearance, as the signals read them
        assert [profile.span_kinds[kind].anchors for kind in profile.kind_of] == anchors_of
    assert any(len(anchors) > 1 for anchors in anchors_of)  # log statements are anchors too


def test_a_profiles_children_are_the_spans_under_each_span_and_leaves_have_none(demo_incident):
    """Trace blame reads the window's parent -> children map from its (cached) profile to tell whether a broken span
    has a broken span below it."""
    for spans in (demo_incident.spans, *(minute.spans for minute in demo_incident.reference)):
        profile = profile_of(spans, ())
        for span, kind in zip(spans, profile.kind_of):
            under = [child.span_id for child in spans if child.parent_id == span.span_id]
            assert profile.children.get(span.span_id, []) == under
            assert profile.span_kinds[kind].leaf == (not under)
