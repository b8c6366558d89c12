"""Synthetic PetShop issues: five-minute windows of the fault-free `noissue` metrics, a fault injected into
one component's latency / availability and carried up the call graph to PetSite; written in PetShop's own
layout (`dataset/<scenario>/{graph.csv, noissue/metrics.csv, test/issue_<k>/{metrics.csv, target.json}}`).

The first half of each `noissue` table stays the scenario's normal period; cases are cut from the second
half, so no case repeats a step of the baseline.
"""

from __future__ import annotations

import math
import shutil
from functools import partial
from pathlib import Path

import networkx as nx

from engine.parallel import ordered_map
from engine.synth.catalog import parse_fault_types
from engine.synth.errors import SynthError
from engine.synth.files import write_csv, write_json
from engine.synth.plan import (PlannedFault, Skipped, SynthCase, SynthOptions, SynthResult, choose_services,
                               plan_faults)
from engine.synth.trace_faults import loss_effect
from engine.telemetry.petshop import OBSERVATION_SUFFIXES, read_adjacency
from engine.telemetry.readers import read_csv_table

TELEMETRY = frozenset({"latency", "errors"})
HEADER_ROWS = 4  # microservice / metric / statistic / unix_timestamp
WINDOW_STEPS = 5
STEP_S = 300
ONSET_IN_STEP_S = (30, 290)  # the fault starts inside the second step of the window
ALERT_DELAY_S = (60, 240)  # how long after the onset the SLO alarm fires
CASE_COLUMNS = ["path", "scenario", "orig_split", "issue", "root_cause_node", "root_cause_metric", "target_node",
                "target_metric", "target_agg", "target_timestamp", "fault_type", "parameters"]
ALERT_NODE = "PetSite"


class MetricsTable:
    """The raw PetShop table: header rows kept as read, cells of the data rows edited in place."""

    def __init__(self, rows: list[list[str]]):
        self.header, self.data = rows[:HEADER_ROWS], [row for row in rows[HEADER_ROWS:] if row]
        self.columns = {(entity, f"{metric}.{statistic}"): position for position, (entity, metric, statistic)
                        in enumerate(zip(rows[0], rows[1], rows[2])) if position}

    def entities(self) -> list[str]:
        return sorted({entity for entity, _ in self.columns})

    def value(self, row: list[str], entity: str, name: str) -> float:
        position = self.columns.get((entity, name))
        try:
            return float(row[position]) if position is not None and row[position] else math.nan
        except ValueError:
            return math.nan

    def set(self, row: list[str], entity: str, name: str, value: float) -> None:
        position = self.columns.get((entity, name))
        if position is not None and not math.isnan(self.value(row, entity, name)):
            row[position] = repr(float(value))


def synthesize_petshop(root: Path, out: Path, options: SynthOptions, on_progress, workers: int = 1,
                       scheduler: str | None = None) -> SynthResult:
    scenarios = [path.parent.parent for path in sorted((root / "dataset").glob("*/noissue/metrics.csv"))]
    if not scenarios:
        raise SynthError(f"{root}: no dataset/<scenario>/noissue/metrics.csv (PetShop's fault-free period)")
    fault_types = parse_fault_types(options.faults, TELEMETRY, "PetShop")
    plans = []
    for scenario in scenarios:
        table = MetricsTable(read_csv_table(scenario / "noissue" / "metrics.csv"))
        candidates = [entity for entity in table.entities() if not entity.endswith(OBSERVATION_SUFFIXES)]
        services = choose_services(options.services, candidates, "PetShop")
        plans.append((scenario, table, plan_faults(services, fault_types, options.per_service, options.seed)))
    result = SynthResult([], [], [str(scenario) for scenario in scenarios])
    plans = [(scenario, table, _visible(table, planned, result.skipped)) for scenario, table, planned in plans]
    rows = []
    total = sum(len(planned) for _, _, planned in plans)
    for scenario, table, planned in plans:
        rows += _write_scenario(scenario, table, planned, out / "dataset" / scenario.name, options.seed, result,
                                lambda case: on_progress(len(result.cases), total, case.case_id), workers, scheduler)
    if (root / "LICENSE_DATASET").exists():
        shutil.copyfile(root / "LICENSE_DATASET", out / "LICENSE_DATASET")
    write_csv(out / "cases.csv", CASE_COLUMNS, rows)
    return result


def _visible(table: MetricsTable, planned: list[PlannedFault], skipped: list[Skipped]) -> list[PlannedFault]:
    """The faults whose component's own metrics can show them: it must serve requests through some case window,
    and an error fault needs an availability that is above 0 in the normal period (X-Ray reports 0 throughout
    for some Lambda service nodes)."""
    half = len(table.data) // 2
    kept = []
    for fault in planned:
        if not _served_starts(table, half, fault.service):
            reason = "serves no request through any case window of the fault-free period"
        elif fault.fault_type != "network_delay" and not any(
                table.value(row, fault.service, "availability.Average") > 0 for row in table.data[:half]):
            reason = "availability reads 0 throughout the normal period: failed requests would not show in it"
        else:
            kept.append(fault)
            continue
        skipped.append(Skipped("PetShop", fault.service, fault.fault_type, reason))
    return kept


def _served_starts(table: MetricsTable, half: int, service: str) -> list[int]:
    """Window starts (second half of the table) where the service serves requests in every step from the onset on:
    a fault on a component nobody calls changes nothing."""
    served = [table.value(row, service, "requests.Sum") > 0 for row in table.data]
    return [start for start in range(half, len(table.data) - WINDOW_STEPS + 1)
            if all(served[start + 1:start + WINDOW_STEPS])]


def _write_scenario(scenario: Path, table: MetricsTable, planned: list[PlannedFault], out: Path, seed: int,
                    result: SynthResult, progress, workers: int = 1, scheduler: str | None = None) -> list[dict[str, str]]:
    half = len(table.data) // 2
    if len(table.data) - half < WINDOW_STEPS + 1:
        raise SynthError(f"{scenario / 'noissue' / 'metrics.csv'}: {len(table.data)} steps; need at least "
                         f"{2 * (WINDOW_STEPS + 1)} (half baseline, half cases)")
    graph = read_adjacency(scenario / "graph.csv")
    (out / "noissue").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(scenario / "graph.csv", out / "graph.csv")
    write_csv(out / "noissue" / "metrics.csv", table.header[0], [*table.header[1:], *table.data[:half]])
    rows = []
    job = partial(_issue_job, scenario.name, table, half, graph, out / "test", seed)
    for case, row in ordered_map(job, planned, workers, scheduler):  # each case its own folder: any process
        result.cases.append(case)
        rows.append(row)
        progress(case)
    return rows


def _issue_job(scenario: str, table: MetricsTable, half: int, graph: nx.DiGraph, test: Path, seed: int,
               fault: PlannedFault) -> tuple[SynthCase, dict[str, str]]:
    return _write_issue(scenario, table, half, graph, fault, test / f"issue_{fault.index}", seed)


def _write_issue(scenario: str, table: MetricsTable, half: int, graph: nx.DiGraph, fault: PlannedFault,
                 issue: Path, seed: int) -> tuple[SynthCase, dict[str, str]]:
    rng = fault.rng(seed, "timing")
    starts = _served_starts(table, half, fault.service)
    start = starts[int(rng.integers(len(starts)))]
    window = [list(row) for row in table.data[start:start + WINDOW_STEPS]]
    onset = float(window[1][0]) + float(rng.uniform(*ONSET_IN_STEP_S))
    alert = int(onset + rng.uniform(*ALERT_DELAY_S))
    _inject(table, window, graph, fault, onset)
    write_csv(issue / "metrics.csv", table.header[0], [*table.header[1:], *window])
    metric = "latency" if fault.fault_type == "network_delay" else "availability"
    write_json(issue / "target.json", {
        "target": {"node": ALERT_NODE, "metric": metric, "agg": "Average", "timestamp": alert},
        "root_cause": {"node": fault.service, "metric": metric, "fault_type": fault.fault_type},
    })
    case = SynthCase(f"{scenario}/test/{issue.name}", "PetShop", fault.service, fault.fault_type, onset, fault.parameters)
    row = {"path": f"dataset/{scenario}/test/{issue.name}", "scenario": scenario, "orig_split": "synthetic",
           "issue": str(fault.index), "root_cause_node": fault.service, "root_cause_metric": metric,
           "target_node": ALERT_NODE, "target_metric": metric, "target_agg": "Average", "target_timestamp": str(alert),
           "fault_type": fault.fault_type,
           "parameters": ";".join(f"{name}={value}" for name, value in sorted(fault.parameters.items()))}
    return case, row


def _inject(table: MetricsTable, window: list[list[str]], graph: nx.DiGraph, fault: PlannedFault, onset: float) -> None:
    """The faulty component's own latency / availability change; each caller above it takes the part of the
    change that its share of requests through the component carries."""
    p = fault.parameters
    callers = sorted(nx.ancestors(graph, fault.service)) if fault.service in graph else []
    for row in window:
        share = min(max(float(row[0]) + STEP_S - onset, 0.0), STEP_S) / STEP_S
        if share <= 0:
            continue
        own_requests = table.value(row, fault.service, "requests.Sum")
        for entity in [fault.service, *callers]:
            reach = 1.0 if entity == fault.service else _request_share(table, row, entity, own_requests)
            added_s, failed = _effect(fault.fault_type, p)
            for statistic in ("Average", "p50", "p90", "p95", "p99"):
                name = f"latency.{statistic}"
                table.set(row, entity, name, table.value(row, entity, name) + added_s * share * reach)
            availability = table.value(row, entity, "availability.Average")
            table.set(row, entity, "availability.Average", availability * (1 - failed * share * reach))


def _effect(fault_type: str, p: dict[str, float]) -> tuple[float, float]:
    """(seconds added to a call, share of calls that fail) for the faulty component itself."""
    if fault_type == "network_delay":
        return p["delay_ms"] / 1000, 0.0
    if fault_type == "network_loss":
        rtos, failed = loss_effect(p["loss"])
        return rtos * p["rto_ms"] / 1000, failed
    return 0.0, p["error_rate"]  # exception


def _request_share(table: MetricsTable, row: list[str], caller: str, own_requests: float) -> float:
    """Share of the caller's requests that reach the component (1 where either count is missing)."""
    calls = table.value(row, caller, "requests.Sum")
    if math.isnan(calls) or math.isnan(own_requests) or calls <= 0:
        return 1.0
    return min(own_requests / calls, 1.0)
