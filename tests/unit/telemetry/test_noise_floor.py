"""A service that strays while all is well (issue 12, item 4): what it shows in the day's fault-free minutes says
little about it, so it must not top a window where another service breaks a habit, nor stand out in a window that
only looks like its usual strays."""

from __future__ import annotations

import networkx as nx

from engine.telemetry.model import Alert, Incident, LogRecord, ReferenceMinute, Span, Window
from engine.telemetry.ranking import rank_root_causes

CALLS = 20  # requests per minute; F calls X (which calls Y) and Z, and Y and Z each log one line per request
Minute = tuple[list[Span], list[LogRecord]]


def _minute(minute: int, y_silent: float = 0.0, z_silent: float = 0.0) -> Minute:
    """One minute of requests; `y_silent` / `z_silent`: the share of requests in which Y / Z skip their usual line."""
    spans, logs = [], []
    for k in range(CALLS):
        t, tag = minute * 60.0 + 2.5 * k, f"{minute}-{k}"
        spans += [Span(tag, f"f{tag}", "", "F", "F.handle", t, 400.0),
                  Span(tag, f"fx{tag}", f"f{tag}", "F", "call X", t + 0.001, 90.0),
                  Span(tag, f"x{tag}", f"fx{tag}", "X", "X.serve", t + 0.002, 80.0),
                  Span(tag, f"xy{tag}", f"x{tag}", "X", "call Y", t + 0.010, 30.0),
                  Span(tag, f"y{tag}", f"xy{tag}", "Y", "Y.serve", t + 0.011, 20.0),
                  Span(tag, f"fz{tag}", f"f{tag}", "F", "call Z", t + 0.200, 20.0),
                  Span(tag, f"z{tag}", f"fz{tag}", "Z", "Z.serve", t + 0.201, 10.0)]
        if k >= y_silent * CALLS:
            logs.append(LogRecord(t + 0.012, "Y", f"y{tag}", "INFO", "y.Serve#10 answered"))
        if k >= z_silent * CALLS:
            logs.append(LogRecord(t + 0.202, "Z", f"z{tag}", "INFO", "z.Serve#20 answered"))
    return spans, logs


def _incident(window: Minute, reference: list[Minute]) -> Incident:
    spans, logs = window
    return Incident(
        case_id="toy", system="toy", entities=["F", "X", "Y", "Z"],
        topology=nx.DiGraph([("F", "X"), ("F", "Z"), ("X", "Y")]),
        alert=Alert("F", "latency", 600.0, "toy alert"), window=Window(600.0, 660.0), baseline=Window(-1200.0, 540.0),
        spans=spans, logs=logs, window_trace_minutes=1.0,
        reference=[ReferenceMinute(f"ref{m}", tuple(s), tuple(r)) for m, (s, r) in enumerate(reference)],
    )


def _day(noisy_minutes: int) -> list[Minute]:
    """Five fault-free minutes; in the first `noisy_minutes` of them Z skips its line in half of its requests."""
    return [_minute(m, z_silent=0.5 if m < noisy_minutes else 0.0) for m in range(5)]


def test_a_service_that_strays_on_a_fault_free_day_does_not_top_a_fault_elsewhere():
    window = _minute(10, y_silent=0.4, z_silent=0.5)  # Z strays as it does now and then; Y breaks its habit
    assert rank_root_causes(_incident(window, _day(noisy_minutes=2)))[0].entity == "Y"
    assert rank_root_causes(_incident(window, _day(noisy_minutes=0)))[0].entity == "Z"  # Z never strayed: Z's


def test_a_window_that_only_repeats_the_days_strays_puts_nobody_half_way_in_any_modality():
    window = _minute(10, z_silent=0.5)
    noisy_day = rank_root_causes(_incident(window, _day(noisy_minutes=2)))
    assert all(value < 0.5 for candidate in noisy_day for value in candidate.evidence.values())
    steady_day = rank_root_causes(_incident(window, _day(noisy_minutes=0)))
    assert steady_day[0].entity == "Z" and max(steady_day[0].evidence.values()) >= 0.5
