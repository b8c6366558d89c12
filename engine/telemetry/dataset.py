"""One entry point over every supported dataset folder: which cases it holds, and loading one."""

from __future__ import annotations

from pathlib import Path

from engine.telemetry.errors import TelemetryError
from engine.telemetry.mabc import is_mabc_dir, list_mabc_cases, load_mabc_case
from engine.telemetry.model import CaseRef, Incident
from engine.telemetry.nezha import is_nezha_dir, list_nezha_cases, load_nezha_case
from engine.telemetry.petshop import is_petshop_dir, list_petshop_cases, load_petshop_case

LOADERS = (
    ("nezha", is_nezha_dir, list_nezha_cases, load_nezha_case),
    ("petshop", is_petshop_dir, list_petshop_cases, load_petshop_case),
    ("mabc", is_mabc_dir, list_mabc_cases, load_mabc_case),
)


def dataset_kind(dataset_dir: str | Path) -> str:
    """`nezha`, `petshop` or `mabc` for a dataset root (or the bundled demo folder)."""
    return _loader(Path(dataset_dir))[0]


def list_cases(dataset_dir: str | Path) -> list[CaseRef]:
    return _loader(Path(dataset_dir))[2](Path(dataset_dir))


def load_case(dataset_dir: str | Path, case_id: str) -> Incident:
    return _loader(Path(dataset_dir))[3](Path(dataset_dir), case_id)


def _loader(path: Path):
    if not path.is_dir():
        raise TelemetryError(f"{path}: not a folder; expected a Nezha, PetShop or mABC dataset folder")
    for loader in LOADERS:
        if loader[1](path):
            return loader
    raise TelemetryError(
        f"{path}: not a known dataset; expected rca_data/ (Nezha), dataset/<scenario>/graph.csv (PetShop) "
        "or simple_sample/endpoints_stat.json (mABC)"
    )
