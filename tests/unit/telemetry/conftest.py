from __future__ import annotations

from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[3] / "data" / "demo"
DEMO_CASE = "tt-2023-01-29-18"


@pytest.fixture(scope="session")
def demo_incident():
    from engine.telemetry.dataset import load_case

    return load_case(DEMO, DEMO_CASE)


@pytest.fixture(scope="session")
def demo_ranking(demo_incident):
    from engine.telemetry.ranking import rank_root_causes

    return rank_root_causes(demo_incident)
