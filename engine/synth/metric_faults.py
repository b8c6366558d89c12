"""Each fault type as changes to Nezha's one-minute metric rows: the faulty pod, its callers, the call-graph
edges into it (OB) and the front-end SLI.

A sample stamped t covers the minute before t; it takes the share of that minute the fault was active.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.synth.catalog import CPU_RATE_CEILING
from engine.synth.trace_faults import ActiveFault, loss_effect

LATENCY_QUANTILES = ("P90", "P95", "P99")
FRONT_LATENCY = ("LatencyP50(s)", "LatencyP90(s)", "LatencyP95(s)", "LatencyP99(s)")
SAMPLE_SECONDS = 60


@dataclass
class MetricTable:
    header: list[str]
    rows: list[dict[str, str]]

    def change(self, column: str, fault: ActiveFault, update) -> None:
        """update(value, active_share, row) -> new value, on every sample the fault overlaps."""
        if column not in self.header:
            return
        for row in self.rows:
            share = _active_share(float(row.get("TimeStamp") or row["timestamp"]), fault)  # edge tables: lower case
            value = cell_number(row.get(column, ""))
            if share > 0 and not math.isnan(value):
                row[column] = repr(float(update(value, share, row)))


@dataclass
class DayMetrics:
    pods: dict[str, MetricTable]  # service -> its pod's table
    front: MetricTable | None
    edges: dict[str, MetricTable]  # "source_50" / "destination_50" -> per caller_callee table (OB only)


@dataclass(frozen=True)
class Reach:
    callers: list[str]  # services that call the faulty one
    front_share: float  # share of front-end requests whose trace reaches the faulty service


def inject_metrics(day: DayMetrics, fault: ActiveFault, reach: Reach, rng: np.random.Generator) -> None:
    p = fault.parameters
    pod = day.pods.get(fault.service)
    if fault.fault_type in ("cpu_contention", "cpu_consumed"):
        _cpu(pod, fault, rng)
    if fault.fault_type == "memory_leak":
        _memory(pod, fault)
    _code_load(pod, fault)
    server = p.get("served_latency", p.get("slowdown"))  # the pod's server latency, as the real faults moved it
    added_s = _slow_server(pod, fault, server) if server is not None else 0.0
    if "slowdown" in p:
        _client_latency(day, reach, fault, lambda share: added_s * share)
        _edges(day, fault, reach, ("source_50", "destination_50"), lambda share: added_s * share)
    if fault.fault_type == "network_delay":
        delay_s = p["delay_ms"] / 1000
        _client_latency(day, reach, fault, lambda share: delay_s * share)
        _edges(day, fault, reach, ("source_50",), lambda share: delay_s * share)
        _front_latency(day, fault, delay_s * reach.front_share)
    if fault.fault_type == "network_loss":
        rtos, failed = loss_effect(p["loss"])
        wait_s = rtos * p["rto_ms"] / 1000
        _client_latency(day, reach, fault, lambda share: wait_s * share)
        # the per-edge series are medians (`source_50`), and at the catalog's loss (10 to 50 % of packets) fewer than
        # half the calls lose theirs: the median call waits nothing, as the traced calls into the service show
        _front_latency(day, fault, wait_s * reach.front_share)
        _success(day, reach.callers, fault, failed)
        _front_errors(day, fault, reach.front_share * failed)
    if fault.fault_type == "exception":
        _success(day, [fault.service], fault, p["error_rate"])
        _front_errors(day, fault, reach.front_share * p["error_rate"] * p["caller_stops"] * p["caller_logs"])
    if fault.fault_type == "return":
        _front_errors(day, fault, reach.front_share * p["wrong_rate"] * p["caller_logs"] * 0.5)


def _cpu(pod: MetricTable | None, fault: ActiveFault, rng: np.random.Generator) -> None:
    """The container's CPU rate taken to `cpu_level` % (never lowered), its node's raised by the log-ratio
    `node_cpu_ratio` (over each sample's own level +1 %, the signatures' offset) and the container's memory by
    `memory_add_mi` MiB, each sample by the share of its minute the fault was active (the calibration:
    engine.synth.catalog)."""
    if pod is None:
        return
    p = fault.parameters

    cpu_before = _column(pod, "CpuUsageRate(%)")
    pod.change("CpuUsageRate(%)", fault,
               lambda value, share, _row: _toward(value, p["cpu_level"], share * rng.uniform(0.8, 1.2), CPU_RATE_CEILING))
    pod.change("CpuUsage(m)", fault, lambda value, _share, row: value * _ratio(row, "CpuUsageRate(%)", cpu_before))
    pod.change("NodeCpuUsageRate(%)", fault,
               lambda value, share, _row: min(_raised(value, p["node_cpu_ratio"], share), 100))
    memory_before = _column(pod, "MemoryUsage(Mi)")
    pod.change("MemoryUsage(Mi)", fault, lambda value, share, _row: value + p["memory_add_mi"] * share)
    pod.change("MemoryUsageRate(%)", fault,
               lambda value, _share, row: value * _ratio(row, "MemoryUsage(Mi)", memory_before))


def _memory(pod: MetricTable | None, fault: ActiveFault) -> None:
    """A leak: usage climbs steadily from the onset to the end of the fault (then the pod is restarted)."""
    if pod is None:
        return
    growth = fault.parameters["memory_growth"]

    def progress(row) -> float:
        span = (fault.end_ns - fault.onset_ns) / 1e9
        return min(max((float(row["TimeStamp"]) - fault.onset_ns / 1e9) / span, 0.0), 1.0)

    before = _column(pod, "MemoryUsageRate(%)")
    pod.change("MemoryUsageRate(%)", fault,
               lambda value, _share, row: value + (100 - value) * growth * progress(row))
    pod.change("MemoryUsage(Mi)", fault, lambda value, _share, row: value * _ratio(row, "MemoryUsageRate(%)", before))


CODE_LOAD_COLUMNS = {"cpu_load": ("CpuUsageRate(%)", "CpuUsage(m)"), "syscalls": ("SyscallRead", "SyscallWrite"),
                     "workload": ("PodWorkload(Ops)",)}


def _code_load(pod: MetricTable | None, fault: ActiveFault) -> None:
    """A code fault changes the load its root serves (requests cut short or retried, less or more work per request):
    each column multiplied by its factor, each sample by the share of its minute the fault was active. Only the
    factors the catalog drew (engine.synth.catalog `CODE_LOAD_RANGES`)."""
    if pod is None:
        return
    for name, columns in CODE_LOAD_COLUMNS.items():
        factor = fault.parameters.get(name)
        if factor is None:
            continue
        for column in columns:
            pod.change(column, fault, _scaled(factor))


def _scaled(factor: float):
    return lambda value, share, _row: value * (1 + (factor - 1) * share)


def _slow_server(pod: MetricTable | None, fault: ActiveFault, factor: float) -> float:
    """Server-side latency quantiles are multiplied by `factor`; returns their median growth in seconds."""
    if pod is None:
        return 0.0
    factor -= 1.0
    growth = [0.0]

    def slower(value: float, share: float, _row) -> float:
        growth.append(value * factor * share)
        return value * (1 + factor * share)

    for quantile in LATENCY_QUANTILES:
        pod.change(f"PodServerLatency{quantile}(s)", fault, slower)
    return float(np.median(growth)) if len(growth) > 1 else 0.0


def _client_latency(day: DayMetrics, reach: Reach, fault: ActiveFault, added) -> None:
    for caller in reach.callers:
        table = day.pods.get(caller)
        for quantile in LATENCY_QUANTILES if table else ():
            table.change(f"PodClientLatency{quantile}(s)", fault, lambda value, share, _row: value + added(share))


def _edges(day: DayMetrics, fault: ActiveFault, reach: Reach, names: tuple[str, ...], added) -> None:
    for name in names:
        table = day.edges.get(name)
        for caller in reach.callers if table else ():
            table.change(f"{caller}_{fault.service}", fault, lambda value, share, _row: value + added(share))


def _front_latency(day: DayMetrics, fault: ActiveFault, added_s: float) -> None:
    for column in FRONT_LATENCY if day.front else ():
        day.front.change(column, fault, lambda value, share, _row: value + added_s * share)


def _success(day: DayMetrics, services: list[str], fault: ActiveFault, failed: float) -> None:
    for service in services:
        table = day.pods.get(service)
        if table:  # a pod that reports 0 has no success-rate probe: left as it is
            table.change("PodSuccessRate(%)", fault,
                         lambda value, share, _row: value * (1 - failed * share) if value > 0 else value)


def _front_errors(day: DayMetrics, fault: ActiveFault, failed: float) -> None:
    if day.front:
        day.front.change("SuccessRate(%)", fault, lambda value, share, _row: value * (1 - failed * share))


def _active_share(sample_time: float, fault: ActiveFault) -> float:
    start, end = fault.onset_ns / 1e9, fault.end_ns / 1e9
    overlap = min(sample_time, end) - max(sample_time - SAMPLE_SECONDS, start)
    return max(overlap, 0.0) / SAMPLE_SECONDS


def _toward(value: float, level: float, share: float, ceiling: float) -> float:
    """`value` moved `share` of the way up to `level`, no higher than `ceiling`; a pod already above either stays
    where it is."""
    return max(value, min(value + (level - value) * share, ceiling))


def _raised(value: float, log_ratio: float, share: float) -> float:
    """`value` moved `share` of the way to the level whose log-ratio over it (+1, the signatures' offset) is
    `log_ratio`."""
    return value + (value + 1) * math.expm1(log_ratio) * share


def _column(table: MetricTable, column: str) -> dict[str, float]:
    """TimeStamp -> the column's value, as it is now (before a change that others follow)."""
    return {row["TimeStamp"]: cell_number(row.get(column, "")) for row in table.rows}


def _ratio(row: dict[str, str], column: str, before: dict[str, float]) -> float:
    old = before.get(row["TimeStamp"], math.nan)
    return cell_number(row[column]) / old if old and old > 0 else 1.0


def cell_number(text: str) -> float:
    """A metric CSV cell as a number, NaN where it holds none."""
    try:
        return float(text)
    except ValueError:
        return math.nan
