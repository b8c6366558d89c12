"""Which faults to inject where: every chosen service gets every chosen fault type `per_service` times."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.synth.catalog import draw_parameters
from engine.synth.errors import SynthError


@dataclass(frozen=True)
class PlannedFault:
    index: int
    service: str
    fault_type: str
    parameters: dict[str, float]

    def rng(self, seed: int, purpose: str) -> np.random.Generator:
        """An independent stream per case and purpose: changing one case never shifts another's draws."""
        return np.random.default_rng([seed, self.index, sum(map(ord, purpose))])


def choose_services(text: str | None, candidates: list[str], system: str) -> list[str]:
    """`None` / "all" -> every candidate; else a comma list, each of which must be a candidate."""
    if text in (None, "", "all"):
        return list(candidates)
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in candidates]
    if unknown:
        raise SynthError(f"unknown service(s) {', '.join(unknown)} in {system}; expected some of {', '.join(candidates)}")
    return names


def plan_faults(services: list[str], fault_types: list[str], per_service: int, seed: int,
                system: str | None = None) -> list[PlannedFault]:
    """Latin-square order: each block of len(services) cases holds every service once, each with a different
    type, so one service's faults are far apart in time and its metric baseline stays free of its own faults.
    `system` selects its own magnitude ranges where the catalog measured them (SYSTEM_RANGES)."""
    if per_service < 1:
        raise SynthError(f"--per-service must be at least 1, got {per_service}")
    order = list(np.random.default_rng(seed).permutation(len(services)))
    pairs = []
    for repeat in range(per_service):
        for block in range(len(fault_types)):
            for position, service_index in enumerate(order):
                fault_type = fault_types[(block + position) % len(fault_types)]
                pairs.append((services[service_index], fault_type))
    planned = []
    for index, (service, fault_type) in enumerate(pairs):
        rng = np.random.default_rng([seed, index])
        planned.append(PlannedFault(index, service, fault_type, draw_parameters(fault_type, rng, system)))
    return planned


@dataclass(frozen=True)
class SynthCase:
    """One written case: its id in the output dataset, the ground truth and the drawn magnitudes."""

    case_id: str
    system: str
    service: str
    fault_type: str
    onset: float  # epoch seconds
    parameters: dict[str, float]


@dataclass(frozen=True)
class Skipped:
    system: str
    service: str
    fault_type: str
    reason: str


@dataclass(frozen=True)
class SynthOptions:
    system: str | None = None  # a Nezha folder holds two systems; None = every one
    faults: str | None = None  # comma list or "all"
    services: str | None = None  # comma list or "all"
    per_service: int = 1
    seed: int = 0


@dataclass
class SynthResult:
    cases: list[SynthCase]
    skipped: list[Skipped]
    sources: list[str]  # the source folders read
    window_notes: list[str] = field(default_factory=list)  # which source minutes were used or excluded, and why
