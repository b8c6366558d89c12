"""Truncated rows, NaN and infinity in telemetry files: an error naming the file, the row and what was expected —
never padded or read as a number. Missing samples (empty cells, NaN latency percentiles) stay NaN and are counted."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from engine.telemetry.dataset import load_case
from engine.telemetry.errors import TelemetryError
from engine.telemetry.nezha_files import load_metric_file
from engine.telemetry.readers import read_json

from .conftest import DEMO, DEMO_CASE

DAY = Path("rca_data/2023-01-29")
POD = "ts-route-service-b6c59fb57-zv8dt_metric.csv"


@pytest.fixture()
def demo_copy(tmp_path) -> Path:
    target = tmp_path / "demo"
    shutil.copytree(DEMO, target)
    return target


def _edit_row(path: Path, row: int, edit) -> None:
    """Apply `edit` to the cells of 1-based `row` (the header is row 1)."""
    lines = path.read_text().splitlines()
    lines[row - 1] = ",".join(edit(lines[row - 1].split(",")))
    path.write_text("\n".join(lines) + "\n")


def _set_cell(path: Path, row: int, column: str, value: str) -> None:
    index = path.read_text().splitlines()[0].split(",").index(column)
    _edit_row(path, row, lambda cells: cells[:index] + [value] + cells[index + 1:])


def test_a_truncated_metric_row_is_named_not_padded(demo_copy):
    metric = demo_copy / DAY / "metric" / POD
    _edit_row(metric, 7, lambda cells: cells[:9])
    with pytest.raises(TelemetryError, match=rf"{POD}: row 7 has 9 cells; truncated\? expected 22"):
        load_case(demo_copy, DEMO_CASE)


@pytest.mark.parametrize("text", ["inf", "-inf", "Infinity", "1e999"])
def test_an_infinite_sample_is_named_with_its_row_and_column(demo_copy, text):
    metric = demo_copy / DAY / "metric" / POD
    _set_cell(metric, 5, "CpuUsage(m)", text)
    with pytest.raises(TelemetryError, match=rf"{POD}: row 5, column 'CpuUsage\(m\)': expected a finite number"):
        load_case(demo_copy, DEMO_CASE)


def test_nan_outside_a_latency_percentile_is_an_error(demo_copy):
    metric = demo_copy / DAY / "metric" / POD
    _set_cell(metric, 4, "MemoryUsage(Mi)", "NaN")
    with pytest.raises(TelemetryError, match=rf"{POD}: row 4, column 'MemoryUsage\(Mi\)': expected a finite"):
        load_case(demo_copy, DEMO_CASE)


def test_a_nan_or_empty_timestamp_is_an_error(demo_copy):
    metric = demo_copy / DAY / "metric" / POD
    _set_cell(metric, 3, "TimeStamp", "nan")
    with pytest.raises(TelemetryError, match=rf"{POD}: row 3, column 'TimeStamp': expected a finite number"):
        load_case(demo_copy, DEMO_CASE)


def test_missing_samples_stay_nan_and_are_counted(demo_copy):
    """A percentile of a minute without requests (NaN, as Nezha's exporter writes it) or an empty cell is a
    missing sample: kept as NaN (never a number) and counted on the series."""
    metric = demo_copy / DAY / "metric" / POD
    before = load_metric_file(metric).missing
    _set_cell(metric, 3, "PodServerLatencyP90(s)", "NaN")
    _set_cell(metric, 4, "CpuUsage(m)", "")
    series = load_metric_file(metric)
    assert series.missing == before + 2
    assert math.isnan(series.values["PodServerLatencyP90(s)"][1]) and math.isnan(series.values["CpuUsage(m)"][2])


def test_petshop_truncated_row_and_infinity_are_named(tmp_path):
    from engine.telemetry.petshop import read_metrics_csv

    good = ("microservice,a,a\nmetric,latency,requests\nstatistic,Average,Sum\nunix_timestamp,,\n"
            "1,0.5,3\n2,,4\n")
    path = tmp_path / "metrics.csv"
    path.write_text(good)
    times, table = read_metrics_csv(path)
    assert math.isnan(table["a"]["latency.Average"][1])  # an empty cell is a missing sample
    path.write_text(good + "3,0.7\n")
    with pytest.raises(TelemetryError, match=r"metrics\.csv: row 7 has 2 cells; truncated\? expected 3"):
        read_metrics_csv(path)
    path.write_text(good.replace("2,,4", "2,inf,4"))
    with pytest.raises(TelemetryError, match=r"metrics\.csv: row 6, column 'a/latency\.Average': expected a finite"):
        read_metrics_csv(path)


def test_mabc_nan_is_refused(tmp_path):
    from engine.telemetry.mabc import _endpoint_metrics

    path = tmp_path / "endpoints_stat.json"
    path.write_text('{"a": {"2023-01-01 00:00:00": {"calls": NaN, "success_rate": 1, "error_rate": 0,'
                    ' "average_duration": 1, "timeout_rate": 0}}}')
    with pytest.raises(TelemetryError, match=r"endpoints_stat\.json: a: each minute needs a numeric 'calls'"):
        _endpoint_metrics(path)


def test_a_missing_fault_list_is_an_error_not_zero_cases(demo_copy):
    from engine.telemetry.dataset import list_cases

    (demo_copy / DAY / "2023-01-29-fault_list.json").unlink()
    with pytest.raises(TelemetryError, match=r"2023-01-29-fault_list\.json: missing; expected the fault list"):
        list_cases(demo_copy)


def test_a_malformed_fault_list_is_a_telemetry_error(demo_copy):
    from engine.telemetry.dataset import list_cases

    (demo_copy / DAY / "2023-01-29-fault_list.json").write_text(json.dumps({"10": 5}))
    with pytest.raises(TelemetryError, match=r"fault_list\.json: expected an object mapping hour -> list"):
        list_cases(demo_copy)


def test_a_json_file_nested_too_deep_is_named_not_a_recursion_traceback(tmp_path):
    deep = tmp_path / "target.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(TelemetryError, match=r"target\.json: expected a JSON document nested less deeply"):
        read_json(deep)
