"""Root-cause ranking: per-modality anomaly signals, fused per entity, then "an anomalous entity whose
downstream dependencies look normal" is preferred over its callers, which only suffer from it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from weakref import WeakKeyDictionary

import networkx as nx
import numpy as np

from engine.telemetry.blame import trace_blame_signal
from engine.telemetry.model import Incident, Window
from engine.telemetry.profiles import minute_as_window
from engine.telemetry.reasons import explain
from engine.telemetry.signals import (
    Signal,
    edge_metric_signals,
    edge_signal,
    latency_signal,
    log_error_signal,
    metric_signal,
    metric_signals,
    own_resource_share,
    pattern_signal,
    saturation_signal,
    saturation_signals,
    wait_signal,
)

# modality -> (signal function, weight, value at which the modality is "half convinced"). Specific
# evidence (a broken code path in traces and logs, a resource metric) weighs double; own span time
# moves with load, so it needs a larger change to convince.
MODALITIES = {
    "pattern": (pattern_signal, 2.0, 5.0),
    "blame": (trace_blame_signal, 2.0, 1.0),
    "logs": (log_error_signal, 1.0, 1.0),
    "latency": (latency_signal, 1.0, 4.0),
    "metrics": (metric_signal, 2.0, 20.0),
    "edges": (edge_signal, 1.0, 20.0),
    "wait": (wait_signal, 2.0, 3.0),  # in spreads of the call's own wait: 3 is the reference's 1% excursion
    "saturation": (saturation_signal, 2.0, 0.5),  # share of the room under its limit: half of it is half-convincing
}
_TOTAL_WEIGHT = sum(weight for _, weight, _ in MODALITIES.values())
# modalities scored against the reference minutes, and so able to score each of those minutes against the others
NOISE_MODALITIES = ("pattern", "blame", "logs", "latency", "wait")
# modalities whose noise is taken off the score rather than added to the half-way value: a share of the room under
# a limit is bounded, and a pod that takes a tenth of its room in a quarter of the day's stretches (one whose CPU
# comes and goes) has taken nothing unusual when it takes a tenth now
NOISE_TAKEN_OFF = ("saturation",)
NOISE_HISTORY_S = 2 * 3600  # how far back the metric noise reaches (~40 stretches of a 3-minute window)
NOISE_QUANTILE = 0.75  # an entity's noise: what it reaches in a quarter of the day's fault-free minutes / stretches
MIN_NOISE_MINUTES = 3
DOWNSTREAM_DISCOUNT = 0.5
UNREACHABLE_DISCOUNT = 0.5
REASONED = 5  # candidates that get a written reason (the rest are rarely read)


@dataclass
class Candidate:
    entity: str
    score: float  # in [0, 1]
    evidence: dict[str, float] = field(default_factory=dict)  # modality -> how much the entity stands out, [0, 1)
    reason: str = ""  # one sentence citing numbers (top candidates only)


def modality_signals(incident: Incident) -> dict[str, dict[str, Signal]]:
    return {name: function(incident) for name, (function, _, _) in MODALITIES.items()}


Reach = Mapping[str, Collection[str]]
"""A dependency map as an agent reported it: entity -> every entity it depends on, directly or not."""


def rank_root_causes(incident: Incident, signals: dict[str, dict[str, Signal]] | None = None,
                     reach: Reach | None = None) -> list[Candidate]:
    """Every entity, most likely root cause first; deterministic (ties broken by name). Pass `signals` when
    they are already computed (they are the expensive part); `reach` replaces the topology's descendants of the
    entities it maps."""
    signals = modality_signals(incident) if signals is None else signals
    standing = modality_standing(incident, signals)
    fused = {entity: _fuse(entity, standing) for entity in incident.entities}
    own = _own_resource_part(signals["metrics"], standing)
    adjusted = _prefer_downstream(incident.topology, fused, reach or {}, own)
    reachable = reachable_from_alert(incident, reach)
    adjusted = {e: score if e in reachable else UNREACHABLE_DISCOUNT * score for e, score in adjusted.items()}
    ranked = sorted(incident.entities, key=lambda e: (e in incident.observed_only, -adjusted[e], e))
    return [
        Candidate(
            entity=entity,
            score=round(float(adjusted[entity]), 4),
            evidence=_evidence(entity, standing),
            reason=explain(incident, entity, signals, standing, adjusted) if position < REASONED else "",
        )
        for position, entity in enumerate(ranked)
    ]


def modality_standing(incident: Incident, signals: dict[str, dict[str, Signal]]) -> dict[str, dict[str, float]]:
    """modality -> entity -> how much the entity stands out in it, beyond its own noise (peer_standing)."""
    floors = noise_floors(incident, signals["edges"])
    return {name: peer_standing(incident.entities, signals[name], half, floors.get(name), name in NOISE_TAKEN_OFF)
            for name, (_, _, half) in MODALITIES.items()}


def peer_standing(entities: list[str], signal: dict[str, Signal], half: float,
                  noise: Mapping[str, float] | None = None, take_off_noise: bool = False) -> dict[str, float]:
    """How much an entity stands out in one modality, in [0, 1).

    A modality in which every entity deviates (a workload shift, a noisy baseline) says little about
    which one is the cause, so the peers' median deviation is added to the modality's half-way value; so is the
    entity's own `noise` (see noise_floors): a score it reaches while all is well says little about it either,
    and one no larger than that noise never stands out more than half-way. With `take_off_noise` the noise is
    taken off the score instead (see NOISE_TAKEN_OFF).
    """
    taken_off, added = (noise or {}, {}) if take_off_noise else ({}, noise or {})
    scores = {e: signal[e].score - taken_off.get(e, 0.0) for e in entities if e in signal}
    values = {e: score for e, score in scores.items() if score > 0}
    if not values:
        return {}
    median = float(np.median([values.get(e, 0.0) for e in entities]))
    return {e: v / (v + half + median + added.get(e, 0.0)) for e, v in values.items()}


_FLOORS: WeakKeyDictionary[Incident, dict[str, dict[str, float]]] = WeakKeyDictionary()  # see noise_floors


def noise_floors(incident: Incident, edges: dict[str, Signal] | None = None) -> dict[str, dict[str, float]]:
    """modality -> entity -> how far the entity strays while all is well: the same case replayed on stretches where
    all was well (or mostly: see below), each scored by the modalities that can read it; the upper quartile over
    those stretches (a service that strays in a quarter of them strays all day; one stray stretch, perhaps the tail
    of an earlier fault, does not make it noisy). Trace modalities read each of the day's fault-free reference
    minutes as if it were the window, against the other reference minutes; metric modalities read the earlier
    stretches of the metric history (_earlier_stretches), the edges one edge at a time (_edge_noise). Entities that
    never stray are left out. Cached per incident; pass the incident's `edges` signal where it is already computed."""
    if incident not in _FLOORS:
        _FLOORS[incident] = _noise_floors(incident, MODALITIES["edges"][0](incident) if edges is None else edges)
    return _FLOORS[incident]


def _noise_floors(incident: Incident, edges: dict[str, Signal]) -> dict[str, dict[str, float]]:
    floors: dict[str, dict[str, float]] = {}
    minutes = _reference_minutes_alone(incident)
    if len(minutes) >= MIN_NOISE_MINUTES:
        floors.update({name: _upper_quartile(incident.entities, [MODALITIES[name][0](minute) for minute in minutes])
                       for name in NOISE_MODALITIES})
    stretches = _earlier_stretches(incident)
    if len(stretches) >= MIN_NOISE_MINUTES:
        # the metric modalities are scored on earlier stretches of the metric history instead, all at once; the
        # edges per edge (_edge_noise): a caller's latency into a service moves with every fault downstream of it,
        # so an entity's floor over all its edges holds the day's other faults (real OB checkoutservice fell 3rd to 4th)
        floors["metrics"] = _upper_quartile(incident.entities, metric_signals(stretches))
        floors["saturation"] = _upper_quartile(incident.entities, saturation_signals(stretches))
        floors["edges"] = _edge_noise(edges, edge_metric_signals(stretches))
    return floors


def _reference_minutes_alone(incident: Incident) -> list[Incident]:
    """Each fault-free reference minute with traces as the window, the other reference minutes as its reference."""
    return [minute_as_window(incident, minute) for minute in incident.reference if minute.spans]


def _earlier_stretches(incident: Incident) -> list[Incident]:
    """The case's window and metric baseline moved back together, a window's length (in whole minutes) at a time,
    over the NOISE_HISTORY_S of metrics before the window, as far as the moved baseline still has metrics: what a
    live tool has seen of each metric in the hours before the alert (earlier faults of the day included, hence the
    upper quartile)."""
    starts = [series.times[0] for series in incident.metrics.values() if len(series.times)]
    if not starts:
        return []
    step = 60.0 * np.ceil(incident.window.minutes)
    shifts = np.arange(step, NOISE_HISTORY_S + 1, step)
    return [replace(incident, window=_moved(incident.window, shift), baseline=_moved(incident.baseline, shift))
            for shift in shifts if incident.baseline.start - shift >= min(starts)]


def _moved(window: Window, seconds: float) -> Window:
    return Window(window.start - seconds, window.end - seconds)


def _upper_quartile(entities: list[str], replays: list[dict[str, Signal]]) -> dict[str, float]:
    """Entity -> the upper quartile of its score over the replays (one modality's signals of each), where it ever
    scored."""
    scores = {entity: [found[entity].score if entity in found else 0.0 for found in replays] for entity in entities}
    return {entity: float(np.quantile(values, NOISE_QUANTILE)) for entity, values in scores.items() if max(values) > 0}


def _edge_noise(now: dict[str, Signal], history: list[dict[str, Signal]]) -> dict[str, float]:
    """Entity -> how far the call edge that now (`now`: the case's edge signal) carries its edge score strays over
    the earlier stretches (`history`: the edge signal of each; upper quartile). Read per edge, not per entity: an
    entity's other edges (a caller's latency into a service moves with every fault downstream of it) say nothing
    about the one it stands out on now."""
    carried = {entity: max(signal.evidence, key=signal.evidence.get) for entity, signal in now.items()
               if signal.score > 0}
    noise = {entity: float(np.quantile([past[entity].evidence.get(edge, 0.0) if entity in past else 0.0
                                        for past in history], NOISE_QUANTILE))
             for entity, edge in carried.items()}
    return {entity: value for entity, value in noise.items() if value > 0}


def _evidence(entity: str, standing: dict[str, dict[str, float]]) -> dict[str, float]:
    return {name: round(float(values[entity]), 4) for name, values in standing.items() if entity in values}


def _fuse(entity: str, standing: dict[str, dict[str, float]]) -> float:
    return sum(weight * standing[name].get(entity, 0.0) for name, (_, weight, _) in MODALITIES.items()) / _TOTAL_WEIGHT


def reachable_from_alert(incident: Incident, reach: Reach | None = None) -> set[str]:
    """Entities the alerted entity depends on (and itself): only these can explain its symptom."""
    alerted = incident.alert.entity
    if alerted not in incident.topology:
        return set(incident.entities)
    return depends_on(incident.topology, alerted, reach or {}) | {alerted}


def depends_on(topology: nx.DiGraph, entity: str, reach: Reach) -> set[str]:
    """What `entity` depends on: as `reach` maps it, else the topology's descendants."""
    if entity in reach:
        return set(reach[entity])
    return nx.descendants(topology, entity) if entity in topology else set()


def _own_resource_part(metrics: dict[str, Signal], standing: dict[str, dict[str, float]]) -> dict[str, float]:
    """The part of each entity's fused score that its own CPU or memory use carries: its metric standing's own-resource
    share and all of its saturation standing."""
    (_, metric_weight, _), (_, saturation_weight, _) = MODALITIES["metrics"], MODALITIES["saturation"]
    own = {entity: metric_weight * value * own_resource_share(metrics[entity]) / _TOTAL_WEIGHT
           for entity, value in standing["metrics"].items()}
    for entity, value in standing["saturation"].items():
        own[entity] = own.get(entity, 0.0) + saturation_weight * value / _TOTAL_WEIGHT
    return own


def _prefer_downstream(topology: nx.DiGraph, fused: dict[str, float], reach: Reach,
                       own: dict[str, float]) -> dict[str, float]:
    """A dependency as anomalous as the entity explains what it suffers (its latency, errors, broken habits), up to
    DOWNSTREAM_DISCOUNT of it; never its own CPU or memory use (`own`): an unrelated stray in a callee must not
    halve a pod that burns CPU."""
    adjusted = {}
    for entity, score in fused.items():
        below = [fused.get(d, 0.0) for d in depends_on(topology, entity, reach)]
        explained = min(max(below, default=0.0) / score, 1.0) if score > 0 else 0.0  # 1: a dependency is as anomalous
        kept = min(own.get(entity, 0.0), score)
        adjusted[entity] = kept + (score - kept) * (1.0 - DOWNSTREAM_DISCOUNT * explained)
    return adjusted
