"""Which trace / log minutes of a Nezha fault day are fault-free: the minute file of each real alert holds the
minute before it, but real faults come every few minutes, so that minute may still carry the previous fault.

The day's own recovery decides how long after a real fault a minute is clean: for each alert minute, the previously
faulted service's ERROR lines, span latency and usual log statements are compared with its level in the day's
fault-free reference window (construct_data/); the recovery time is the shortest lag after which every such minute is
back at that level. The usual statements catch what the other two miss: a real Train-Ticket exception adds no ERROR
line and keeps its latency, but a statement that follows the throw goes silent while it lasts.
One recovery time per day, not a per-minute pass / fail, so no minute is kept only because it happens to look quiet.
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from engine.synth.nezha_minutes import NS, MinuteSource
from engine.synth.spans import span_row
from engine.telemetry.nezha_files import log_template, parse_log_message, service_of
from engine.telemetry.profiles import statement_of

LATENCY_RATIO = 1.5  # p90 span latency of a service above this multiple of its fault-free p90 is not recovered
NOISE_SIGMAS = 3.0  # ERROR lines above fault-free rate + 3 Poisson sigmas (+1), or a statement below it: not recovered


@dataclass(frozen=True)
class RealFault:
    onset_s: float
    service: str


@dataclass
class MinuteLevels:
    """ERROR lines, log statements and span durations per service over one minute file, and the span-start range it
    covers."""

    first_ns: int
    last_ns: int
    errors: Counter[str] = field(default_factory=Counter)
    durations: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    statements: Counter[tuple[str, str]] = field(default_factory=Counter)  # (service, `Class#line`) -> lines

    @property
    def minutes(self) -> float:
        return max((self.last_ns - self.first_ns) / (60 * NS), 1.0)

    def p90(self, service: str) -> float | None:
        values = self.durations.get(service)
        return float(np.percentile(values, 90)) if values else None


@dataclass
class PoolChoice:
    kept: list[str]  # HH_MM names of the fault-free minutes
    cutoff_ns: dict[str, int]  # per kept minute: rows at or after its own alert's onset are dropped
    recovery_s: int
    excluded: dict[str, str]  # HH_MM -> why

    def notes(self, date: str) -> list[str]:
        kept = ", ".join(self.kept) or "none"
        lines = [f"{date}: recovery time {self.recovery_s // 60} min; kept {kept}"]
        return lines + [f"{date}: excluded {name}: {why}" for name, why in sorted(self.excluded.items())]


def levels(source: MinuteSource, name: str) -> MinuteLevels:
    traces, logs = source.rows(name)
    spans = [span_row(row) for row in traces]
    found = MinuteLevels(min((s.start_ns for s in spans), default=0), max((s.start_ns for s in spans), default=0))
    for span in spans:
        found.durations[span.service].append(span.duration_us)
    for row in logs or ():
        level, message = parse_log_message(row["Log"])
        service = service_of(row["PodName"])
        found.errors[service] += level == "ERROR"
        found.statements[service, statement_of(log_template(message))] += 1
    return found


def recovered(minute: MinuteLevels, reference: MinuteLevels, service: str) -> bool:
    expected = reference.errors[service] / reference.minutes * minute.minutes
    if minute.errors[service] > expected + _noise(expected):
        return False
    now, normal = minute.p90(service), reference.p90(service)
    if now is not None and normal is not None and now > LATENCY_RATIO * normal:
        return False
    return not _statement_silenced(minute, reference, service)


def _statement_silenced(minute: MinuteLevels, reference: MinuteLevels, service: str) -> bool:
    """Whether one of the service's statements is logged well below its reference rate per span of the service
    (beyond the noise): the part of its handling that a fault still cuts off."""
    spans, normal_spans = len(minute.durations.get(service, ())), len(reference.durations.get(service, ()))
    if not normal_spans:
        return False
    for (owner, statement), count in reference.statements.items():
        expected = count / normal_spans * spans
        if owner == service and minute.statements[owner, statement] < expected - _noise(expected):
            return True
    return False


def _noise(expected: float) -> float:
    """How far a count may stray from its `expected` Poisson rate in a fault-free minute: NOISE_SIGMAS sigmas + 1."""
    return NOISE_SIGMAS * math.sqrt(expected) + 1


def choose_pool(candidates: dict[str, MinuteLevels], reference: MinuteLevels, faults: list[RealFault]) -> PoolChoice:
    """`candidates`: alert minute name -> its levels. Keeps the minutes that start at least the day's recovery time
    after the previous real fault (the first alert's minute has none before it)."""
    previous = {name: _previous(faults, levels_.first_ns / NS) for name, levels_ in candidates.items()}
    lags = {name: levels_.first_ns / NS - fault.onset_s
            for name, levels_ in candidates.items() if (fault := previous[name]) is not None}
    dirty = [lags[name] for name, fault in previous.items()
             if fault is not None and not recovered(candidates[name], reference, fault.service)]
    recovery_s = (int(max(dirty)) // 60 + 1) * 60 if dirty else 0  # the next whole minute past the last unrecovered
    kept, excluded, cutoff = [], {}, {}
    for name in sorted(candidates):
        fault = previous[name]
        if fault is not None and lags[name] < recovery_s:
            excluded[name] = f"starts {lags[name] / 60:.1f} min after the real fault on {fault.service}"
            continue
        kept.append(name)
        onset = _next_onset(faults, candidates[name].first_ns / NS)
        if onset is not None:
            cutoff[name] = int(onset * NS)
    return PoolChoice(kept, cutoff, recovery_s, excluded)


def clear_of_faults(first_s: float, last_s: float, faults: list[RealFault], recovery_s: int) -> bool:
    """A stretch of telemetry (a reference-window minute) holds no real fault's onset and starts at least the day's
    recovery time after the previous one: the rule the alert minutes pass, for minutes that follow no alert."""
    previous = _previous(faults, first_s)
    return (not any(first_s <= fault.onset_s <= last_s for fault in faults)
            and (previous is None or first_s - previous.onset_s >= recovery_s))


def _previous(faults: list[RealFault], moment_s: float) -> RealFault | None:
    before = [fault for fault in faults if fault.onset_s < moment_s]
    return max(before, key=lambda fault: fault.onset_s) if before else None


def _next_onset(faults: list[RealFault], moment_s: float) -> float | None:
    after = [fault.onset_s for fault in faults if fault.onset_s >= moment_s]
    return min(after) if after else None


def minute_label(epoch_s: float) -> str:
    return time.strftime("%H_%M", time.gmtime(epoch_s - epoch_s % 60))
