"""Scale-out of `synth` and `tamo eval`: cases generated / features extracted in 2 local processes and on a
distributed.LocalCluster give byte-identical datasets and the same features as a serial run."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from engine.config import settings
from engine.tamo.dataset import dataset_features
from rca_tui.cli.main import app

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
PETSHOP = Path(os.environ.get("RCA_TUI_DATASETS", Path(__file__).resolve().parents[2].parent / "shared" / "datasets")) \
    / "rca" / "petshop"
MODES = ("serial", "workers=2", "dask")
SMALL = ("--services", "ts-order-service,ts-auth-service", "--faults", "cpu_consumed,network_delay")  # 4 cases


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local:
        yield local.scheduler_address


def _options(mode: str, scheduler: str) -> list[str]:
    return {"serial": [], "workers=2": ["--workers", "2"], "dask": ["--dask-scheduler", scheduler]}[mode]


def _tree(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def _synth_everywhere(source: Path, tmp_path: Path, cluster: str, *args: str) -> dict[str, Path]:
    outs = {}
    for mode in MODES:
        outs[mode] = tmp_path / mode.replace("=", "")
        result = CliRunner().invoke(app, ["synth", "--from", str(source), "--out", str(outs[mode]), "--json", *args,
                                          *_options(mode, cluster)])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["cases"] > 2
    return outs


def test_synth_nezha_scaled_out_writes_the_serial_bytes(tmp_path, cluster):
    outs = _synth_everywhere(DEMO, tmp_path, cluster, *SMALL)
    serial = _tree(outs["serial"])
    assert any(name.endswith("_trace.csv.gz") for name in serial) and "cases.csv" in serial
    assert _tree(outs["workers=2"]) == serial
    assert _tree(outs["dask"]) == serial


def test_synth_petshop_scaled_out_writes_the_serial_bytes(tmp_path, cluster):
    if not PETSHOP.is_dir():
        pytest.skip(f"dataset folder {PETSHOP} is absent")
    outs = _synth_everywhere(PETSHOP, tmp_path, cluster, "--services", "PetSearch_AWS::ECS::Fargate")
    serial = _tree(outs["serial"])
    assert _tree(outs["workers=2"]) == serial == _tree(outs["dask"])


def test_tamo_features_scaled_out_are_the_serial_ones(tmp_path, cluster):
    dataset = tmp_path / "synthetic"
    result = CliRunner().invoke(app, ["synth", "--from", str(DEMO), "--out", str(dataset), "--json", *SMALL])
    assert result.exit_code == 0, result.output
    runs = {mode: dataset_features(dataset, cache_dir=tmp_path / f"cache-{i}", **options)  # cold cache each
            for i, (mode, options) in enumerate((("serial", {}), ("workers=2", {"workers": 2}),
                                                 ("dask", {"scheduler": cluster})))}
    serial = runs["serial"]
    assert len(serial) > 2
    for mode in ("workers=2", "dask"):
        assert [(c.features.case_id, c.root_cause, c.fault_type) for c in runs[mode]] == \
               [(c.features.case_id, c.root_cause, c.fault_type) for c in serial]
        for mine, theirs in zip(runs[mode], serial):
            for name in ("series", "semantics", "adjacency", "prior", "signature"):
                assert np.array_equal(getattr(mine.features, name), getattr(theirs.features, name)), name
    assert not [p for p in (tmp_path / "cache-1").iterdir() if "tmp" in p.name]


def test_tamo_eval_cli_scaled_out_prints_the_serial_scores(tmp_path, cluster, monkeypatch):
    dataset = tmp_path / "synthetic"
    assert CliRunner().invoke(app, ["synth", "--from", str(DEMO), "--out", str(dataset), "--json",
                                    *SMALL]).exit_code == 0
    reports = {}
    for i, mode in enumerate(("serial", "workers=2")):
        monkeypatch.setenv("RCA_TUI_CACHE", str(tmp_path / f"cache-{i}"))
        settings.cache_clear()
        result = CliRunner().invoke(app, ["tamo", "eval", "--dataset", str(dataset), "--folds", "2", "--json",
                                          *_options(mode, cluster)])
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        for variant in report["variants"].values():
            variant.pop("inference_ms_mean")
        reports[mode] = report
    assert reports["workers=2"] == reports["serial"]
