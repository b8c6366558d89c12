"""A per-edge latency series that jumps into a service while the calls traced into it in the same minutes take their
usual time (Online Boutique's series into currencyservice, in faults elsewhere) must not name that service; where the
traced calls slow down too, or where no call into it was traced, the series counts in full."""

from __future__ import annotations

import networkx as nx
import numpy as np

from engine.telemetry.model import Alert, Incident, MetricSeries, ReferenceMinute, Span, Window
from engine.telemetry.ranking import rank_root_causes
from engine.telemetry.signals import edge_signal

DAY_MINUTES, ALERT_MINUTE = 180, 150
TIMES = np.arange(DAY_MINUTES) * 60.0
USUAL_WAIT_MS = 6.0


def _calls_into_b(minute: float, wait_ms: float) -> list[Span]:
    """One minute of traced requests: F calls B twenty times, each call `wait_ms` long as F sees it."""
    spans = []
    for k in range(20):
        t, tag = minute * 60.0 + 2.5 * k, f"{minute}-{k}"
        spans += [Span(tag, f"f{tag}", "", "F", "F.handle", t, wait_ms + 3.0),
                  Span(tag, f"fb{tag}", f"f{tag}", "F", "call B", t + 0.001, wait_ms),
                  Span(tag, f"b{tag}", f"fb{tag}", "B", "B.serve", t + 0.002, 2.0)]
    return spans


def _incident(traced_wait_ms: float | None) -> Incident:
    """F calls B and C. From the alert on, the series of F's latency into B jumps sixfold and C's own server latency
    rises 1.8-fold (C's fault); the window's traced calls into B take `traced_wait_ms` (None: none were traced)."""
    rng = np.random.default_rng(3)
    after = np.arange(DAY_MINUTES) >= ALERT_MINUTE
    metrics = {}
    for entity in "FBC":
        p99 = 0.1 * (1 + rng.normal(0, 0.05, DAY_MINUTES))
        p99[after] *= 1.8 if entity == "C" else 1.0
        metrics[entity] = MetricSeries(entity, TIMES, {"PodServerLatencyP99(s)": p99})
    edges = {}
    for callee in "BC":
        p50 = 0.005 * (1 + rng.normal(0, 0.05, DAY_MINUTES))
        p50[after] *= 6.0 if callee == "B" else 1.0
        edges[("F", callee)] = MetricSeries(f"F_{callee}", TIMES, {"latency_p50(s)": p50})
    alert = ALERT_MINUTE * 60.0
    spans = [] if traced_wait_ms is None else _calls_into_b(ALERT_MINUTE, traced_wait_ms)
    reference = [ReferenceMinute(f"ref{m}", tuple(_calls_into_b(m, USUAL_WAIT_MS))) for m in range(100, 105)]
    return Incident(
        case_id="toy", system="toy", entities=["F", "B", "C"], topology=nx.DiGraph([("F", "B"), ("F", "C")]),
        alert=Alert("F", "latency", alert, "toy alert"), window=Window(alert, alert + 180.0),
        baseline=Window(alert - 1860.0, alert - 60.0), metrics=metrics, edge_metrics=edges,
        spans=spans, window_trace_minutes=1.0 if spans else 0.0, reference=reference if spans else [],
    )


def test_an_edge_series_jump_the_traced_calls_do_not_show_does_not_name_the_callee():
    unconfirmed = _incident(traced_wait_ms=USUAL_WAIT_MS * 1.05)
    assert edge_signal(unconfirmed)["B"].score < 0.1 * edge_signal(_incident(traced_wait_ms=None))["B"].score
    assert rank_root_causes(unconfirmed)[0].entity == "C"


def test_an_edge_series_jump_counts_in_full_where_the_traces_show_it_or_traced_nothing():
    for traced_wait_ms in (USUAL_WAIT_MS * 8.0, None):
        incident = _incident(traced_wait_ms)
        assert rank_root_causes(incident)[0].entity == "B", traced_wait_ms
    confirmed, untraced = edge_signal(_incident(USUAL_WAIT_MS * 8.0)), edge_signal(_incident(None))
    assert confirmed["B"].score == untraced["B"].score
