"""A small hand-built incident: frontend -> cart -> redis, where redis's CPU and latency blow up."""
import networkx as nx
import numpy as np
import pytest

from engine.runs.session import Session
from engine.telemetry.model import Alert, Incident, Label, MetricSeries, Window

START = 1_700_000_000.0


def _series(entity: str, spike: float) -> MetricSeries:
    times = START + 60.0 * np.arange(40)
    rng = np.random.default_rng(len(entity))
    cpu = 20 + rng.normal(0, 1, 40)
    latency = 50 + rng.normal(0, 2, 40)
    cpu[30:] *= spike
    latency[30:] *= spike
    return MetricSeries(entity, times, {"CpuUsageRate(%)": cpu, "PodServerLatencyP90(s)": latency})


def make_incident() -> Incident:
    topology = nx.DiGraph([("frontend", "cart"), ("cart", "redis")])
    metrics = {"frontend": _series("frontend", 1.3), "cart": _series("cart", 1.3), "redis": _series("redis", 4.0)}
    return Incident(case_id="tiny-1", system="Tiny", entities=["frontend", "cart", "redis"], topology=topology,
                    alert=Alert("frontend", "latency", START + 60 * 30, "frontend latency p90 above SLO"),
                    window=Window(START + 60 * 30, START + 60 * 40), baseline=Window(START, START + 60 * 29),
                    metrics=metrics, label=Label("redis", "cpu_contention"))


@pytest.fixture
def incident() -> Incident:
    return make_incident()


@pytest.fixture
def session(tmp_path) -> Session:
    from engine.clock import FixedClock

    return Session(tmp_path / "rca.db", clock=FixedClock())
