"""Broken inputs raise TelemetryError naming the file and what was expected (small corrupted copies)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from engine.telemetry.dataset import list_cases, load_case
from engine.telemetry.errors import TelemetryError

from .conftest import DEMO, DEMO_CASE

DAY = Path("rca_data/2023-01-29")


@pytest.fixture()
def demo_copy(tmp_path) -> Path:
    target = tmp_path / "demo"
    shutil.copytree(DEMO, target)
    return target


def _rewrite_gzip(path: Path, edit) -> None:
    text = gzip.open(path, "rt").read()
    with gzip.open(path, "wt") as handle:
        handle.write(edit(text))


def test_truncated_gzip_names_the_file(demo_copy):
    trace = demo_copy / DAY / "trace" / "10_57_trace.csv.gz"
    trace.write_bytes(trace.read_bytes()[:5000])
    with pytest.raises(TelemetryError, match=r"10_57_trace\.csv\.gz.*gzip"):
        load_case(demo_copy, DEMO_CASE)


def test_missing_trace_column_is_named(demo_copy):
    _rewrite_gzip(demo_copy / DAY / "trace" / "10_58_trace.csv.gz", lambda t: t.replace("OperationName", "Op", 1))
    with pytest.raises(TelemetryError, match=r"10_58_trace\.csv\.gz: missing column\(s\) OperationName"):
        load_case(demo_copy, DEMO_CASE)


def test_non_numeric_duration_is_named(demo_copy):
    def corrupt(text: str) -> str:
        header, first, rest = text.split("\n", 2)
        return "\n".join([header, first.rsplit(",", 1)[0] + ",fast", rest])

    _rewrite_gzip(demo_copy / DAY / "log" / "10_57_log.csv.gz", lambda t: t)  # logs stay valid
    _rewrite_gzip(demo_copy / DAY / "trace" / "10_57_trace.csv.gz", corrupt)
    with pytest.raises(TelemetryError, match=r"10_57_trace\.csv\.gz: row 2, column 'Duration': expected a number, got 'fast'"):
        load_case(demo_copy, DEMO_CASE)


def test_missing_metric_column_is_named(demo_copy):
    metric = next((demo_copy / DAY / "metric").glob("ts-route-service*_metric.csv"))
    metric.write_text(metric.read_text().replace("CpuUsageRate(%)", "Cpu", 1))
    with pytest.raises(TelemetryError, match=r"ts-route-service.*_metric\.csv: missing column CpuUsageRate"):
        load_case(demo_copy, DEMO_CASE)


def test_empty_metric_window_is_reported(demo_copy):
    for metric in (demo_copy / DAY / "metric").glob("*_metric.csv"):
        lines = metric.read_text().splitlines()
        metric.write_text("\n".join(lines[:5]) + "\n")  # only rows long before the alert remain
    with pytest.raises(TelemetryError, match=r"metric: no metric rows between 2023-01-29 10:56 and"):
        load_case(demo_copy, DEMO_CASE)


def test_bad_fault_list_entry_is_named(demo_copy):
    fault_list = demo_copy / DAY / "2023-01-29-fault_list.json"
    fault_list.write_text(json.dumps({"10": [{"inject_time": "yesterday", "inject_pod": "x", "inject_type": "cpu"}]}))
    with pytest.raises(TelemetryError, match=r"fault_list\.json: fault entry .* needs inject_time"):
        list_cases(demo_copy)


def test_unknown_case_and_unknown_folder(demo_copy, tmp_path):
    with pytest.raises(TelemetryError, match=r"no Nezha case 'nope'; expected one of tt-2023-01-29-18"):
        load_case(demo_copy, "nope")
    with pytest.raises(TelemetryError, match=r"not a known dataset"):
        list_cases(tmp_path)


def test_petshop_header_and_adjacency_errors(tmp_path):
    from engine.telemetry.petshop import read_adjacency, read_metrics_csv

    bad = tmp_path / "metrics.csv"
    bad.write_text("service,metric\nPetSite,latency\n")
    with pytest.raises(TelemetryError, match=r"metrics\.csv: expected header rows microservice, metric, statistic"):
        read_metrics_csv(bad)
    graph = tmp_path / "graph.csv"
    graph.write_text(",a,b\na,0,1\nb,0\n")
    with pytest.raises(TelemetryError, match=r"graph\.csv: row 3 \('b'\) has 1 cells; expected 2"):
        read_adjacency(graph)


def test_mabc_stats_need_numbers(tmp_path):
    sample = tmp_path / "simple_sample"
    sample.mkdir()
    (sample / "label.json").write_text(json.dumps({"2023-10-15 14:00:00": {"a": [["a"]]}}))
    (sample / "endpoints_stat.json").write_text(json.dumps({"a": {"2023-10-15 14:00:00": {"calls": "many"}}}))
    with pytest.raises(TelemetryError, match=r"endpoints_stat\.json: a: each minute needs a numeric 'calls'"):
        load_case(tmp_path, "2023-10-15T14:00-a")
