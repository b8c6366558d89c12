"""Case listing / loading: the telemetry dispatcher when it is importable, else the Nezha loader."""

from __future__ import annotations

from pathlib import Path

from engine.telemetry.model import CaseRef, Incident


def list_cases(dataset: Path) -> list[CaseRef]:
    try:
        from engine.telemetry import list_cases as dispatch_list
    except ImportError:
        from engine.telemetry.nezha import list_nezha_cases as dispatch_list
    return list(dispatch_list(Path(dataset)))


def load_case(dataset: Path, case_id: str) -> Incident:
    try:
        from engine.telemetry import load_case as dispatch_load
    except ImportError:
        from engine.telemetry.nezha import load_nezha_case as dispatch_load
    return dispatch_load(Path(dataset), case_id)
