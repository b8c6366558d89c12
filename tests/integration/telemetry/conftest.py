from __future__ import annotations

import os
from pathlib import Path

import pytest

DATASETS = Path(os.environ.get("RCA_TUI_DATASETS", Path(__file__).resolve().parents[3] / ".." / "shared" / "datasets"))
NEZHA, PETSHOP, MABC = DATASETS / "rca" / "nezha", DATASETS / "rca" / "petshop", DATASETS / "mabc"


def need(path: Path) -> Path:
    if not path.is_dir():
        pytest.skip(f"dataset folder {path} is absent")
    return path
