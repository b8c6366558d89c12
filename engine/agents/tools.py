"""The tools the agents call over an incident's telemetry. Each returns plain JSON-able numbers."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import networkx as nx

from engine.config import DEFAULT_STACKER, FAULT_KIND_MODEL, TAMO_CHECKPOINT
from engine.provenance import covers, in_sample_warning
from engine.reasoners.base import ToolSpec
from engine.telemetry import analysis
from engine.telemetry.model import Incident
from engine.telemetry.ranking import Candidate, depends_on, modality_signals, rank_root_causes
from engine.telemetry.signals import Signal

SCORE_DECIMALS = 3
"""The precision of the scores the tools report."""


class ToolError(ValueError):
    """A tool was called with arguments it cannot use (unknown entity, missing argument)."""


class Toolbox:
    """The tools over one incident. With `tamo_model` (a checkpoint path, or "default": the bundled one where its
    manifest lists the incident's system), the TAMO tools are offered too: T2's learned ranking and causal graph,
    T3's fault type and A's expert report. With `stacker` (a path, or "default": the bundled one whenever TAMO is
    on), rank_candidates orders the entities by the stacked ranker's learned weights over the tools' scores. The
    fault_type tool asks `fault_kind_model` (see :func:`choose_fault_kind`)."""

    def __init__(self, incident: Incident, tamo_model: str | None = None, stacker: str | Path | None = None,
                 fault_kind_model: str | Path | None = "default"):
        self.incident = incident
        self.choice = choose_ranker(tamo_model, stacker, incident.system)
        self.tamo_checkpoint, self.stacker = self.choice.tamo_checkpoint, self.choice.stacker
        self.fault_kind_model = choose_fault_kind(fault_kind_model, incident.system)
        self._tools: dict[str, tuple[ToolSpec, Callable[..., Any]]] = {
            "anomaly_overview": (ToolSpec("anomaly_overview", "Most anomalous entities per modality vs baseline",
                                          {"top": "how many per modality (default 5)"}), self.anomaly_overview),
            "metric_query": (ToolSpec("metric_query", "An entity's metrics in the window vs the baseline",
                                      {"entity": "service name"}), self.metric_query),
            "trace_stats": (ToolSpec("trace_stats", "Calls, error rate, mean/p95 latency per edge of an entity",
                                     {"entity": "service name"}), self.trace_stats),
            "log_stats": (ToolSpec("log_stats", "Error logs and new log templates of an entity vs baseline",
                                   {"entity": "service name"}), self.log_stats),
            "baseline_compare": (ToolSpec("baseline_compare", "Per-modality anomaly scores of one entity",
                                          {"entity": "service name"}), self.baseline_compare),
            "dependencies": (ToolSpec("dependencies", "Upstream callers or downstream callees of an entity",
                                      {"entity": "service name", "direction": "upstream|downstream"}),
                             self.dependencies),
            "rank_candidates": (ToolSpec("rank_candidates", "Root-cause candidates with fused scores",
                                         {"k": "how many (default 5)"}), self.rank_candidates),
            "propagation_path": (ToolSpec("propagation_path", "Call path from a root cause to the alerted entity",
                                          {"root": "service name"}), self.propagation_path),
        }
        if self.fault_kind_model is not None:
            self._tools["fault_type"] = (ToolSpec("fault_type", "Fault type at an entity from which of its signals "
                                                  "moved against its baseline, and why", {"entity": "service name"}),
                                         self.fault_type)
        if self.tamo_checkpoint is not None:
            self._tools.update({
                "tamo_rank": (ToolSpec("tamo_rank", "TAMO T2: root-cause ranking from frequency-domain attention",
                                       {"k": "how many (default 5)"}), self.tamo_rank),
                "tamo_causal_graph": (ToolSpec("tamo_causal_graph", "TAMO T2: causal edges between entities",
                                               {}), self.tamo_causal_graph),
                "tamo_report": (ToolSpec("tamo_report", "TAMO T3 fault type and the expert report", {}),
                                self.tamo_report),
            })

    @property
    def specs(self) -> list[ToolSpec]:
        return [spec for spec, _ in self._tools.values()]

    def call(self, name: str, args: dict[str, Any]) -> Any:
        if name not in self._tools:
            raise ToolError(f"no tool named {name!r}; tools are {', '.join(self._tools)}")
        try:
            return self._tools[name][1](**args)
        except TypeError as exc:
            raise ToolError(f"{name}: bad arguments {args}: {exc}") from exc

    # ---- shared computations --------------------------------------------------------------------------------
    @cached_property
    def signals(self):
        return modality_signals(self.incident)

    @cached_property
    def ranking(self) -> list[Candidate]:
        return rank_root_causes(self.incident, self.signals)

    def _entity(self, entity: str) -> str:
        if entity not in self.incident.entities:
            raise ToolError(f"unknown entity {entity!r}; known: {', '.join(sorted(self.incident.entities))}")
        return entity

    # ---- tools ---------------------------------------------------------------------------------------------
    def anomaly_overview(self, top: int = 5) -> dict:
        overview = {}
        for modality, per_entity in self.signals.items():
            ranked = sorted(per_entity.items(), key=lambda item: -item[1].score)[:int(top)]
            overview[modality] = [{"entity": e, "score": round(s.score, SCORE_DECIMALS), "summary": s.summary}
                                  for e, s in ranked if s.score > 0]
        return {"modalities": overview, "missing": list(self.incident.missing)}

    def metric_query(self, entity: str) -> dict:
        """Each metric's worst window value against its normal level (robust z-score)."""
        return {"entity": self._entity(entity), "metrics": analysis.baseline_comparison(self.incident, entity)}

    def trace_stats(self, entity: str) -> dict:
        return {"entity": self._entity(entity), "edges": analysis.edge_statistics(self.incident, entity),
                "note": "" if self.incident.spans else "no traces in the window"}

    def log_stats(self, entity: str) -> dict:
        stats = analysis.log_statistics(self.incident, self._entity(entity)).get(entity, {})
        return {"entity": entity, **stats, "note": "" if self.incident.logs else "no logs in the window"}

    def baseline_compare(self, entity: str) -> dict:
        self._entity(entity)
        scores = {m: {"score": round(s[entity].score, SCORE_DECIMALS), "summary": s[entity].summary}
                  for m, s in self.signals.items() if entity in s}
        return {"entity": entity, "modalities": scores}

    def dependencies(self, entity: str, direction: str = "downstream") -> dict:
        graph = self.incident.topology
        if direction not in ("upstream", "downstream"):
            raise ToolError(f"direction must be upstream or downstream, got {direction!r}")
        if entity not in graph:
            return {"entity": self._entity(entity), "direct": [], "indirect": []}
        direct = sorted(graph.successors(entity) if direction == "downstream" else graph.predecessors(entity))
        reach = nx.descendants(graph, entity) if direction == "downstream" else nx.ancestors(graph, entity)
        return {"entity": entity, "direction": direction, "direct": direct,
                "indirect": sorted(set(reach) - set(direct))}

    def rank_candidates(self, k: int = 5, readings: dict | None = None, reach: dict | None = None) -> dict:
        """`readings` (entity -> modality -> {score, summary}, as baseline_compare shows them) and `reach` (entity ->
        every entity it depends on) are what other agents reported: the ranking is computed over them instead of
        the tools' own reading of the same things."""
        signals, reach = self.reported_signals(readings or {}), self.reported_reach(reach or {})
        if self.stacker is not None:
            return {"candidates": self.stacked_candidates(signals, reach)[:int(k)], "stacked": True}
        return {"candidates": [{"entity": c.entity, "score": c.score, "evidence": c.evidence, "reason": c.reason}
                               for c in self.ranking_over(signals, reach)[:int(k)]]}

    def reported_signals(self, readings: dict) -> dict:
        """The modality signals with each reported reading in place of the tool's where the two differ at the
        precision the tools report."""
        signals = self.signals
        for entity, modalities in readings.items():
            for modality, reading in modalities.items():
                own = signals.get(modality, {}).get(self._entity(entity))
                if modality in signals and round(own.score if own else 0.0, SCORE_DECIMALS) != reading["score"]:
                    signals = {**signals, modality: {**signals[modality], entity: Signal(
                        float(reading["score"]), summary=reading.get("summary", ""))}}
        return signals

    def reported_reach(self, reach: dict) -> dict[str, set[str]]:
        """The reported dependency map where it differs from the topology's."""
        graph = self.incident.topology
        return {entity: set(below) for entity, below in reach.items()
                if set(below) != depends_on(graph, self._entity(entity), {})}

    def ranking_over(self, signals: dict, reach: dict[str, set[str]]) -> list[Candidate]:
        if signals is self.signals and not reach:
            return self.ranking
        return rank_root_causes(self.incident, signals, reach)

    def stacked_candidates(self, signals: dict | None = None, reach: dict[str, set[str]] | None = None) -> list[dict]:
        """The tools' per-entity scores combined with the stacked ranker's learned weights; score = its softmax
        probability. TAMO T2 feeds it when the ranker was fitted with it."""
        import numpy as np

        from engine.stacking.ranker import load_ranker
        from engine.stacking.tools import case_tools

        signals, reach = signals or self.signals, reach or {}
        ranker = load_ranker(Path(self.stacker))
        if ranker.uses_tamo and self.tamo_checkpoint is None:
            raise ToolError(f"stacked ranker {self.stacker} needs TAMO T2 scores, and TAMO is off for this incident "
                            f"({self.choice.tamo_note}); give a TAMO checkpoint with --tamo-model")
        tamo = self._tamo().rank(self.incident, self._tamo_model(), self.signals) if ranker.uses_tamo else None
        tools = case_tools(self.incident, tamo, signals, reach)
        z = ranker.scores(tools)
        p = np.exp(z - z.max())
        p /= p.sum()
        by_entity = {c.entity: c for c in self.ranking_over(signals, reach)}
        order = ranker.rank(tools)
        return [{"entity": e, "score": round(float(p[tools.entities.index(e)]), 4),
                 "evidence": by_entity[e].evidence, "reason": by_entity[e].reason} for e in order]

    def tamo_rank(self, k: int = 5) -> dict:
        return {"ranking": [{"entity": e, "score": round(float(v), 4)} for e, v in self._tamo().rank(
            self.incident, self._tamo_model(), self.signals)[:int(k)]]}

    def tamo_causal_graph(self) -> dict:
        edges = self._tamo().causal_edges(self.incident, self._tamo_model())
        return {"edges": [{"src": a, "dst": b, "weight": round(float(w), 4)} for a, b, w in edges[:15]]}

    def tamo_report(self) -> dict:
        report = self._tamo().report(self.incident, self._tamo_model())
        return {"fault_type": report["fault_type"], "report": report["report"]}

    def fault_type(self, entity: str) -> dict:
        return self._tamo().fault_kind(self.incident, self._entity(entity), self.fault_kind_model, self.signals)

    def _tamo(self):
        from engine.tamo import api

        return api

    def _tamo_model(self):
        return self._tamo().load_model(self.tamo_checkpoint)

    @property
    def ranker(self) -> str:
        """Which ranking the Probability Oracle starts from, in words (shown with every run)."""
        return self.choice.description

    @cached_property
    def in_sample_warnings(self) -> list[str]:
        """Which trained artefacts this run uses were fitted on this very incident."""
        warnings = [in_sample_warning(path, self.incident.case_id, what) for path, what in self.choice.artefacts
                    if path.is_file()]
        return [warning for warning in warnings if warning]

    def propagation_path(self, root: str) -> dict:
        """The alerted entity's call chain down to the root cause (callers first)."""
        path = analysis.propagation_path(self.incident, self._entity(root))
        return {"root": root, "alerted": self.incident.alert.entity, "path": list(reversed(path))}


@dataclass(frozen=True)
class RankerChoice:
    tamo_checkpoint: Path | None
    tamo_note: str  # why TAMO is on or off
    stacker: Path | None

    @property
    def description(self) -> str:
        if self.stacker is not None:
            over = f"the heuristic signals and TAMO T2 ({self.tamo_checkpoint.name})" if self.tamo_checkpoint \
                else "the heuristic signals"
            return f"stacked ranker {self.stacker.name} over {over}"
        if self.tamo_checkpoint is not None:
            return f"statistical ranking blended with TAMO T2 ({self.tamo_checkpoint.name})"
        return f"statistical ranking ({self.tamo_note})"

    @property
    def artefacts(self) -> list[tuple[Path, str]]:
        return [(path, what) for path, what in ((self.tamo_checkpoint, "TAMO checkpoint"),
                                                (self.stacker, "stacked ranker")) if path is not None]


def choose_ranker(tamo_model: str | None, stacker: str | Path | None, system: str) -> RankerChoice:
    """`tamo_model` / `stacker`: None or "none" (off), "default" or a path. The default TAMO checkpoint is used
    only for the systems its manifest lists; the default stacker only when TAMO is on."""
    checkpoint, note = _tamo_for(tamo_model, system)
    if stacker in (None, "none"):
        chosen = None
    elif stacker == "default":
        chosen = DEFAULT_STACKER if checkpoint is not None and DEFAULT_STACKER.is_file() else None
    else:
        chosen = Path(stacker)
    return RankerChoice(checkpoint, note, chosen)


def choose_fault_kind(fault_kind_model: str | Path | None, system: str) -> Path | None:
    """`fault_kind_model`: None or "none" (no fault_type tool), a path, or "default": the bundled classifier where
    its manifest lists the system (it knows that system's signals)."""
    if fault_kind_model in (None, "none"):
        return None
    if fault_kind_model == "default":
        return FAULT_KIND_MODEL if covers(FAULT_KIND_MODEL, system) else None
    return Path(fault_kind_model)


def _tamo_for(tamo_model: str | None, system: str) -> tuple[Path | None, str]:
    if tamo_model in (None, "none"):
        return None, "TAMO off"
    if tamo_model != "default":
        return Path(tamo_model), f"TAMO checkpoint {tamo_model}"
    if not TAMO_CHECKPOINT.is_file():
        return None, f"TAMO off: no bundled checkpoint at {TAMO_CHECKPOINT}"
    if not covers(TAMO_CHECKPOINT, system):
        return None, f"TAMO off: the bundled checkpoint was not trained on {system} incidents"
    return TAMO_CHECKPOINT, f"bundled TAMO checkpoint {TAMO_CHECKPOINT.name}"
