from __future__ import annotations

from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[3] / "data" / "demo"  # a trimmed Nezha Train-Ticket day, bundled
SERVICE = "ts-basic-service"


def generate(out: Path, seed: int = 5, faults: str = "all"):
    from engine.synth import SynthOptions, synthesize

    return synthesize(DEMO, out, SynthOptions(services=SERVICE, faults=faults, seed=seed))


@pytest.fixture(scope="session")
def demo_synth(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "tt"
    return out, generate(out)
