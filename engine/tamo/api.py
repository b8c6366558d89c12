"""What the agents call: TAMO's tools over one loaded Incident.

    model = load_model()            # bundled checkpoint, or a path
    rank(incident)                  -> [(entity, score)], best first (T2)
    causal_edges(incident)          -> [(src, dst, weight)]: src's behaviour explains dst's (T2 attention)
    report(incident)                -> top-K, causal graph, fault type (T3) and the expert report (A)

Features are extracted once per incident object and the result reused by the calls that follow.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from engine.config import TAMO_CHECKPOINT
from engine.telemetry.model import Incident
from engine.tamo.expert import expert_report
from engine.tamo.features import extract_features
from engine.tamo.model import Inference, TamoModel, load_model_file

_models: dict[Path, TamoModel] = {}
_recent: OrderedDict[tuple[int, int], tuple[Incident, Inference]] = OrderedDict()


def load_model(path: Path | str | None = None) -> TamoModel:
    resolved = Path(path or TAMO_CHECKPOINT).resolve()
    if resolved not in _models:
        if not resolved.exists():
            raise FileNotFoundError(f"{resolved}: no TAMO checkpoint; train one with `rca-tui tamo train --dataset DIR`")
        _models[resolved] = load_model_file(resolved)
    return _models[resolved]


def analyse(incident: Incident, model: TamoModel | None = None, signals: dict | None = None) -> Inference:
    """`signals`: the incident's `modality_signals`, when the caller has them already."""
    model = model or load_model()
    key = (id(incident), id(model))
    if key in _recent and _recent[key][0] is incident:
        return _recent[key][1]
    inference = model.infer(extract_features(incident, signals))
    _recent[key] = (incident, inference)
    while len(_recent) > 8:
        _recent.popitem(last=False)
    return inference


def rank(incident: Incident, model: TamoModel | None = None, signals: dict | None = None) -> list[tuple[str, float]]:
    return analyse(incident, model, signals).ranking


def causal_edges(incident: Incident, model: TamoModel | None = None) -> list[tuple[str, str, float]]:
    return analyse(incident, model).causal_edges


def report(incident: Incident, model: TamoModel | None = None, top_k: int = 5) -> dict:
    inference = analyse(incident, model)
    return {
        "case_id": incident.case_id,
        "system": incident.system,
        "top_k": [{"entity": e, "score": s} for e, s in inference.ranking[:top_k]],
        "causal_graph": [{"src": a, "dst": b, "weight": w} for a, b, w in inference.causal_edges],
        "fault_type": inference.fault_types,
        "report": expert_report(inference, incident.topology, incident.alert.entity),
    }
