"""Feature extraction on a real Nezha case and `rca-tui tamo infer` on a checkpoint (skip without datasets)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from engine.telemetry import load_case
from engine.tamo.features import CHANNELS, MODALITY_OF_CHANNEL, extract_features
from engine.tamo.model import TrainConfig, train_model
from rca_tui.cli.tamo import app
from tests.unit.tamo.conftest import synthetic_case

CASE = "ob-2022-08-23-05"  # cpu contention in cartservice


@pytest.fixture
def nezha(datasets):
    return datasets / "rca" / "nezha"


@pytest.mark.datasets
def test_real_case_features_show_the_fault_and_never_read_the_label(nezha):
    incident = load_case(nezha, CASE)
    features = extract_features(incident)
    assert features.series.shape == (len(incident.entities), 16, len(CHANNELS))
    assert np.isfinite(features.series).all() and features.adjacency.sum() > 0
    cpu = features.series[:, -3:, CHANNELS.index("metric:CpuUsageRate(%)")].max(axis=1)
    assert features.entities[int(cpu.argmax())] == "cartservice"
    traces = [c for c, m in enumerate(MODALITY_OF_CHANNEL) if m == "traces"]
    assert np.abs(features.series[:, -3:, traces]).sum() > 0
    incident.label = None
    assert np.array_equal(extract_features(incident).series, features.series)


@pytest.mark.datasets
def test_cli_infer_prints_ranking_graph_type_and_report(nezha, tmp_path):
    rng = np.random.default_rng(0)
    model = train_model([synthetic_case(i, rng) for i in range(6)], TrainConfig(t1_steps=5, t2_steps=5, t3_steps=5))
    checkpoint = model.save(tmp_path / "tamo.pt")
    result = CliRunner().invoke(app, ["infer", CASE, "--dataset", str(nezha), "--model", str(checkpoint),
                                      "--top-k", "3", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert len(payload["top_k"]) == 3 and payload["case_id"] == CASE
    assert abs(sum(payload["fault_type"].values()) - 1.0) < 1e-3
    assert set(payload["report"]) >= {"fault_analysis", "impact", "priority", "remediation"}


def test_cli_infer_names_a_missing_checkpoint(tmp_path):
    result = CliRunner().invoke(app, ["infer", "x", "--dataset", str(tmp_path), "--model", str(tmp_path / "no.pt")])
    assert result.exit_code == 3 and "no.pt" in result.output
