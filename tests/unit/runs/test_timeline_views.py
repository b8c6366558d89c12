"""What the console reads from a Timeline while events stream: the log's filtered positions and the SOP's recent
transitions and reverts, read from the indexes (a key or a frame must not rebuild a long run's history)."""
from __future__ import annotations

from engine.runs.timeline import LogFilter, Timeline
from tests.bench.console_bench import synthetic_events


def event_by_event(timeline: Timeline, log_filter: LogFilter) -> list[int]:
    return [p for p, event in enumerate(timeline.events) if log_filter.accepts(event)]


def test_filtered_positions_match_the_filter_applied_event_by_event():
    timeline = Timeline("run-t", synthetic_events(3_000))
    for log_filter in (LogFilter(group="chain"), LogFilter(group="thought"), LogFilter(agent="fault_mapper"),
                       LogFilter(agent="fault_mapper", group="chain")):
        expected = event_by_event(timeline, log_filter)
        assert expected and list(timeline.log_positions(2_500, log_filter, 2_500)) == [p for p in expected
                                                                                      if p < 2_500]


def test_recent_sop_is_the_tail_of_the_whole_sop():
    timeline = Timeline("run-t", synthetic_events(3_000))
    whole, recent = timeline.sop(2_000), timeline.sop(2_000, recent=2)
    assert len(whole["reverts"]) > 2 and recent["reverts"] == whole["reverts"][-2:]
    assert recent["state"] == whole["state"] and recent["history"] == whole["history"][-2:]
