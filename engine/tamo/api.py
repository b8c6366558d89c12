"""What the agents call: TAMO's tools over one loaded Incident.

    model = load_model()            # bundled checkpoint, or a path
    rank(incident)                  -> [(entity, score)], best first (T2)
    causal_edges(incident)          -> [(src, dst, weight)]: src's behaviour explains dst's (T2 attention)
    report(incident)                -> top-K, causal graph, fault type (T3) and the expert report (A)
    fault_kind(incident, entity)    -> fault type at one entity from its signals (engine.tamo.fault_kind)

Features are extracted once per incident object and the result reused by the calls that follow.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from engine.config import FAULT_KIND_MODEL, TAMO_CHECKPOINT
from engine.telemetry.model import Incident
from engine.tamo.expert import GENERIC_REMEDIATION, REMEDIATION, expert_report
from engine.tamo.fault_kind import FaultKindClassifier, entity_row, load_classifier
from engine.tamo.features import CaseFeatures, extract_features
from engine.tamo.ensemble import TamoEnsemble, load_checkpoint
from engine.tamo.model import Inference

_models: dict[Path, TamoEnsemble] = {}
_classifiers: dict[Path, FaultKindClassifier] = {}
_recent: OrderedDict[tuple[int, int], tuple[Incident, Inference]] = OrderedDict()
_features: OrderedDict[int, tuple[Incident, CaseFeatures]] = OrderedDict()


def load_model(path: Path | str | None = None) -> TamoEnsemble:
    resolved = Path(path or TAMO_CHECKPOINT).resolve()
    if resolved not in _models:
        if not resolved.exists():
            raise FileNotFoundError(f"{resolved}: no TAMO checkpoint; train one with `rca-tui tamo train --dataset DIR`")
        _models[resolved] = load_checkpoint(resolved)
    return _models[resolved]


def analyse(incident: Incident, model: TamoEnsemble | None = None, signals: dict | None = None) -> Inference:
    """`signals`: the incident's `modality_signals`, when the caller has them already."""
    model = model or load_model()
    return _remembered(_recent, (id(incident), id(model)), incident,
                       lambda: model.infer(features(incident, signals)))


def features(incident: Incident, signals: dict | None = None) -> CaseFeatures:
    """The incident's feature tensors, extracted once for T2 / T3 and the fault-kind classifier alike."""
    return _remembered(_features, id(incident), incident, lambda: extract_features(incident, signals))


def _remembered(memo: OrderedDict, key, incident: Incident, compute):
    """What `compute` gives for this incident object, kept for the 8 newest keys (an id is reused once its object
    is gone, so the incident itself is kept beside the value and compared)."""
    if key in memo and memo[key][0] is incident:
        return memo[key][1]
    value = compute()
    memo[key] = (incident, value)
    while len(memo) > 8:
        memo.popitem(last=False)
    return value


def fault_kind(incident: Incident, entity: str, path: Path | None = None, signals: dict | None = None) -> dict:
    """The fault type at `entity`, its class probabilities and the signals that decided it."""
    resolved = Path(path or FAULT_KIND_MODEL).resolve()
    if resolved not in _classifiers:
        _classifiers[resolved] = load_classifier(resolved)
    model = _classifiers[resolved]
    row = entity_row(features(incident, signals), entity)
    kind = model.predict(row)
    return {"entity": entity, "fault_type": kind, "probabilities": model.probabilities(row),
            "because": model.explain(row), "remediation": REMEDIATION.get(kind, GENERIC_REMEDIATION)}


def rank(incident: Incident, model: TamoEnsemble | None = None, signals: dict | None = None) -> list[tuple[str, float]]:
    return analyse(incident, model, signals).ranking


def causal_edges(incident: Incident, model: TamoEnsemble | None = None) -> list[tuple[str, str, float]]:
    return analyse(incident, model).causal_edges


def report(incident: Incident, model: TamoEnsemble | None = None, top_k: int = 5) -> dict:
    inference = analyse(incident, model)
    return {
        "case_id": incident.case_id,
        "system": incident.system,
        "top_k": [{"entity": e, "score": s} for e, s in inference.ranking[:top_k]],
        "causal_graph": [{"src": a, "dst": b, "weight": w} for a, b, w in inference.causal_edges],
        "fault_type": inference.fault_types,
        "report": expert_report(inference, incident.topology, incident.alert.entity),
    }
