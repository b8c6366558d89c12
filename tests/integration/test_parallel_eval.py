"""Scale-out: `eval rca` gives the same figures serially, in 2 local processes and on a distributed.LocalCluster."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from engine.evaluation.rca import evaluate_rca
from engine.parallel import ordered_map
from engine.runs.batch import AgentRanking, chains_verified

ENDPOINTS = ["gateway", "orders", "stock", "billing", "mail"]
CALLS = {"gateway": ["orders", "billing"], "orders": ["stock"], "billing": ["mail"]}
ALERTS = 6


def write_mabc_dataset(root):
    """mABC's sample format: 40 minutes of per-endpoint statistics, an alert every 5 minutes from minute 10."""
    sample = root / "simple_sample"
    sample.mkdir(parents=True)
    rng = np.random.default_rng(1)
    stamps = [f"2024-05-01 12:{minute:02d}:00" for minute in range(40)]
    stats = {endpoint: {stamp: {"calls": 100, "success_rate": 99.0, "error_rate": float(rng.uniform(0, 2)),
                                "average_duration": float(rng.uniform(20, 40)), "timeout_rate": 0.0}
                        for stamp in stamps} for endpoint in ENDPOINTS}
    for minute in range(10, 40):
        stats[ENDPOINTS[1 + minute % 4]][stamps[minute]]["average_duration"] *= 8
    maps = {parent: {stamp: children for stamp in stamps} for parent, children in CALLS.items()}
    labels = {stamps[10 + 5 * k]: {"gateway": [["gateway"]]} for k in range(ALERTS)}
    for name, document in (("endpoints_stat", stats), ("endpoints_maps", maps), ("label", labels)):
        (sample / f"{name}.json").write_text(json.dumps(document))
    return root


def square(number: int) -> int:
    return number * number


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local:
        yield local.scheduler_address


def test_ordered_map_keeps_the_order_everywhere(cluster):
    expected = [n * n for n in range(7)]
    assert list(ordered_map(square, range(7))) == expected
    assert list(ordered_map(square, range(7), workers=2)) == expected
    assert list(ordered_map(square, range(7), scheduler=cluster)) == expected


def test_eval_rca_scaled_out_gives_the_serial_figures(tmp_path, cluster):
    dataset = str(write_mabc_dataset(tmp_path / "mabc"))
    reports, seconds = {}, {}
    for mode, options in (("serial", {}), ("workers=2", {"workers": 2}), ("dask", {"scheduler": cluster})):
        ranking = AgentRanking(str(tmp_path / mode / "eval.db"), dataset)
        (tmp_path / mode).mkdir()
        started = time.perf_counter()
        reports[mode] = evaluate_rca(dataset, ranking, **options)
        seconds[mode] = time.perf_counter() - started
        assert chains_verified(ranking)
    figures = {mode: (_accuracy(report), [case["ranking"] for case in report["cases"]]) for mode, report in reports.items()}
    assert len(figures["serial"][1]) == ALERTS and not reports["serial"]["failures"]
    assert figures["workers=2"] == figures["serial"] == figures["dask"]
    print("wall clock " + ", ".join(f"{mode} {s:.1f} s (x{seconds['serial'] / s:.2f})" for mode, s in seconds.items()))


def _accuracy(report: dict) -> list[dict]:
    return [{k: v for k, v in row.items() if not k.endswith("_per_case")} for row in report["table"]]
