"""The signals behind two synthetic failure cells: network wait on the calls into a service, weighed against that
call's own wait while all was well; a slow memory climb that never doubles."""

from __future__ import annotations

import networkx as nx
import numpy as np

from engine.tamo.features import PRIOR_SIGNALS
from engine.telemetry.model import Alert, Incident, MetricSeries, ReferenceMinute, Span, Window
from engine.telemetry.ranking import MODALITIES, rank_root_causes
from engine.telemetry.signals import latency_signal, metric_signal, wait_signal

CALLS = 20  # requests per minute
ENTITIES = ["F", "X", "Y", "Z"]  # F's handler calls X and Z; X's handler calls Y


def _request(minute: int, k: int, into_y_ms: float = 1.0, into_z_ms: float = 1.0) -> list[Span]:
    """One request; `into_y_ms` / `into_z_ms`: how long the caller's client span waits beyond the callee's own span."""
    t, tag = minute * 60.0 + 2.5 * k, f"{minute}-{k}"
    return [Span(tag, f"f{tag}", "", "F", "F.handle", t, 400.0),
            Span(tag, f"fx{tag}", f"f{tag}", "F", "call X", t + 0.001, 80.0 + into_y_ms),
            Span(tag, f"x{tag}", f"fx{tag}", "X", "X.serve", t + 0.002, 70.0 + into_y_ms),
            Span(tag, f"xy{tag}", f"x{tag}", "X", "call Y", t + 0.010, 20.0 + into_y_ms),
            Span(tag, f"y{tag}", f"xy{tag}", "Y", "Y.serve", t + 0.011, 20.0),
            Span(tag, f"fz{tag}", f"f{tag}", "F", "call Z", t + 0.200, 10.0 + into_z_ms),
            Span(tag, f"z{tag}", f"fz{tag}", "Z", "Z.serve", t + 0.201, 10.0)]


def _minute(minute: int, **waits) -> list[Span]:
    return [span for k in range(CALLS) for span in _request(minute, k, **waits)]


def _jittery(minute: int, every: int = 2) -> list[Span]:
    """Calls into Y that wait 1 ms or, all but one in `every`, 300 ms: Y's network is erratic all day."""
    return [span for k in range(CALLS) for span in _request(minute, k, into_y_ms=300.0 if k % every else 1.0)]


def _incident(window: list[Span], reference: list[list[Span]] | None = None,
              metrics: dict[str, MetricSeries] | None = None) -> Incident:
    reference = reference if reference is not None else [_minute(m) for m in range(3)]
    return Incident(
        case_id="toy", system="toy", entities=ENTITIES, topology=nx.DiGraph([("F", "X"), ("F", "Z"), ("X", "Y")]),
        alert=Alert("F", "latency", 600.0, "toy alert"), window=Window(600.0, 660.0), baseline=Window(-1200.0, 540.0),
        spans=window, window_trace_minutes=1.0, metrics=metrics or {},
        reference=[ReferenceMinute(f"ref{m}", tuple(spans)) for m, spans in enumerate(reference)],
    )


def test_the_added_network_wait_is_charged_to_the_callee_and_ranks_it_first():
    incident = _incident(_minute(10, into_y_ms=300.0))
    delayed = wait_signal(incident)
    assert set(delayed) == {"Y"} and delayed["Y"].score > 100
    assert "wait 300 ms" in delayed["Y"].summary and "(normal 1 ms)" in delayed["Y"].summary
    assert rank_root_causes(incident)[0].entity == "Y"


def test_an_unchanged_minute_shows_no_wait():
    assert wait_signal(_incident(_minute(10))) == {}


def test_a_service_whose_calls_wait_erratically_all_day_does_not_top_a_fault_free_window():
    slower = _jittery(10, every=3)  # two in three calls wait long now, one in two did: the median doubles
    assert wait_signal(_incident(slower, [_jittery(m) for m in range(3)])) == {}
    assert set(wait_signal(_incident(slower))) == {"Y"}  # the same minute against a steady day is Y's
    noisy_day = rank_root_causes(_incident(slower, [_jittery(m) for m in range(3)]))[0]
    steady_day = rank_root_causes(_incident(slower))[0]
    assert steady_day.entity == "Y" and noisy_day.score < 0.2 * steady_day.score


def _slow_caller() -> Incident:
    """F waits 300 ms longer on X and on Z alike: F's own side (its network), not theirs."""
    return _incident([span if span.entity != "F" or span.operation != "call X" else
                      Span(span.trace_id, span.span_id, span.parent_id, "F", "call X", span.start,
                           span.duration_ms + 300.0) for span in _minute(10, into_z_ms=300.0)])


def test_a_caller_that_waits_longer_on_every_service_it_calls_is_slow_on_its_own_side():
    both = wait_signal(_incident(_minute(10, into_y_ms=1.0, into_z_ms=300.0)))
    assert set(both) == {"Z"}  # F waits longer on Z only: Z's
    own_side = wait_signal(_slow_caller())
    assert set(own_side) == {"F"}
    assert own_side["F"].score > 100 and "its own side" in own_side["F"].summary
    assert rank_root_causes(_slow_caller())[0].entity == "F"


def test_a_callee_is_not_charged_the_latency_of_a_caller_slow_on_its_own_side():
    one_callee = latency_signal(_incident(_minute(10, into_z_ms=300.0)))
    assert "wait:F call Z" in one_callee["Z"].evidence  # F waits longer on Z alone: Z's own time grew
    slow_caller = latency_signal(_slow_caller())
    assert not {"X", "Z"} & set(slow_caller)


def _memory(window_values: list[float]) -> dict[str, MetricSeries]:
    """40 minutes of memory per service, a flat 20% with a little noise; X's window minutes (600 s, 660 s) given."""
    rng = np.random.default_rng(3)
    times = np.arange(-30, 10) * 60.0 + 600.0
    series = {}
    for entity in ENTITIES:
        values = 20.0 + rng.normal(0, 0.02, len(times))
        if entity == "X":
            values[30:30 + len(window_values)] = window_values
        series[entity] = MetricSeries(entity, times, {"MemoryUsageRate(%)": values})
    return series


def test_a_slow_memory_climb_that_never_doubles_stands_out_and_a_spike_that_comes_back_does_not_as_much():
    climb = metric_signal(_incident(_minute(10), metrics=_memory([23.0, 26.0])))
    spike = metric_signal(_incident(_minute(10), metrics=_memory([26.0, 20.0])))
    assert max(climb, key=lambda e: climb[e].score) == "X"
    assert climb["X"].score > 2 * spike["X"].score


def test_tamo_priors_are_ranking_modalities():
    assert set(PRIOR_SIGNALS) <= set(MODALITIES)


def _shared_callee_minute(minute: int, late_from: tuple[str, ...] = (), every: int = 3) -> list[Span]:
    """A and B each call S 20 times; the waits jitter by a few ms; from the callers in `late_from`, one call in
    `every` waits out a 200 ms retransmit timeout (a packet lost on S's network): the median does not move."""
    spans = []
    for caller in ("A", "B"):
        for k in range(CALLS):
            t, tag = minute * 60.0 + 2.5 * k, f"{caller}{minute}-{k}"
            wait = 1.0 + (k * 7 % 5) + (200.0 if caller in late_from and k % every == 0 else 0.0)
            spans += [Span(tag, f"h{tag}", "", caller, f"{caller}.handle", t, 300.0),
                      Span(tag, f"c{tag}", f"h{tag}", caller, "call S", t + 0.001, 20.0 + wait),
                      Span(tag, f"s{tag}", f"c{tag}", "S", "S.serve", t + 0.002, 20.0)]
    return spans


def _shared_callee_incident(window: list[Span]) -> Incident:
    return Incident(
        case_id="toy", system="toy", entities=["A", "B", "S"], topology=nx.DiGraph([("A", "S"), ("B", "S")]),
        alert=Alert("A", "latency", 600.0, "toy alert"), window=Window(600.0, 660.0), baseline=Window(-1200.0, 540.0),
        spans=window, window_trace_minutes=1.0,
        reference=[ReferenceMinute(f"ref{m}", tuple(_shared_callee_minute(m))) for m in range(4)],
    )


def test_a_share_of_calls_waiting_out_retransmits_from_every_caller_is_the_callees_network():
    lossy = wait_signal(_shared_callee_incident(_shared_callee_minute(10, late_from=("A", "B"))))
    assert set(lossy) == {"S"} and lossy["S"].score > 3
    assert rank_root_causes(_shared_callee_incident(_shared_callee_minute(10, late_from=("A", "B"))))[0].entity == "S"


def test_long_waits_seen_by_one_caller_only_are_not_charged_to_the_callee():
    assert wait_signal(_shared_callee_incident(_shared_callee_minute(10, late_from=("A",)))) == {}
    assert wait_signal(_shared_callee_incident(_shared_callee_minute(10))) == {}


def test_the_reason_for_waits_in_the_tail_counts_the_calls_that_waited_longer_than_ever():
    lossy = wait_signal(_shared_callee_incident(_shared_callee_minute(10, late_from=("A", "B"))))
    assert "7 of" in lossy["S"].summary and "20 calls 'call S' wait longer" in lossy["S"].summary
