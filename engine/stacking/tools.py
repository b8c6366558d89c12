"""Per-entity tool scores of one incident: the inputs of the stacked ranker, computed once per case.

Only telemetry (and a TAMO checkpoint, when given) is read to build the scores; the label is kept beside them
for fitting and scoring, never inside.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from engine.telemetry.model import Incident
from engine.telemetry.ranking import (MODALITIES, Reach, modality_signals, modality_standing, rank_root_causes,
                                     reachable_from_alert)

FEATURES = (*(f"standing:{m}" for m in MODALITIES), "fused", "fused_rank", "reachable", "tamo", "tamo_rank")
# derived from the columns above (not stored): each tool's confidence on the case, the margin of its top-1 entity
# over its runner-up on that entity's row (0 elsewhere); and TAMO T2's columns scaled by 1 - the case's strongest
# wait standing (_unless_wait): callers that wait on a service mark a network fault, a type TAMO T2 may never have
# trained on in that system (the dev Train-Ticket day has none), so there its scores should count for less
DERIVED = ("fused_lead", "tamo_lead", "tamo_unless_wait", "tamo_rank_unless_wait")
TAMO_FEATURES = ("tamo", "tamo_rank", "tamo_lead", "tamo_unless_wait", "tamo_rank_unless_wait")  # need T2's scores
TOOLS_VERSION = 3  # 2: the standing columns net of each entity's noise floor, as the ranking's; 3: a saturation column


@dataclass
class CaseTools:
    case_id: str
    system: str
    fault_type: str
    truth: str
    entities: list[str]  # in the statistical ranking's order (best first)
    scores: list[list[float]]  # [entity][feature], FEATURES order
    has_tamo: bool = False
    tamo_in_sample: bool = False  # the TAMO checkpoint was trained on this case
    meta: dict = field(default_factory=dict)

    def matrix(self) -> np.ndarray:
        return np.asarray(self.scores, dtype=np.float64).reshape(len(self.entities), len(FEATURES))

    def column(self, name: str) -> np.ndarray:
        return self.matrix()[:, FEATURES.index(name)]

    def features(self, names: tuple[str, ...]) -> np.ndarray:
        """[entity][name]: stored columns (FEATURES) and derived ones (DERIVED)."""
        no_wait = 1.0 - self.column("standing:wait").max(initial=0.0)
        derived = {"fused_lead": _lead(self.column("fused")), "tamo_lead": _lead(self.column("tamo")),
                   "tamo_unless_wait": no_wait * self.column("tamo"),
                   "tamo_rank_unless_wait": no_wait * self.column("tamo_rank")}
        return np.stack([derived[n] if n in derived else self.column(n) for n in names], axis=1)


def _lead(scores: np.ndarray) -> np.ndarray:
    """The top-scored entity's margin over the runner-up on its own row (0 when two share the top), 0 on every
    other row and everywhere when the tool scored nothing."""
    lead = np.zeros(len(scores))
    if len(scores) and scores.max() > 0:
        top = int(np.argmax(scores))
        lead[top] = scores[top] - (np.delete(scores, top).max() if len(scores) > 1 else 0.0)
    return lead


def case_tools(incident: Incident, tamo_ranking: list[tuple[str, float]] | None = None,
               signals: dict | None = None, reach: Reach | None = None) -> CaseTools:
    """The statistical tools' scores (and TAMO T2's, when `tamo_ranking` is given) for every entity; pass the
    incident's `modality_signals` when they are already computed, and a reported dependency map as `reach`
    (see rank_root_causes)."""
    signals = modality_signals(incident) if signals is None else signals
    ranking = rank_root_causes(incident, signals, reach)
    standing = modality_standing(incident, signals)
    reachable = reachable_from_alert(incident, reach)
    top = max((c.score for c in ranking), default=0.0) or 1.0
    rows = [[*(standing[m].get(c.entity, 0.0) for m in MODALITIES), c.score / top, 1.0 / (position + 1),
             float(c.entity in reachable), 0.0, 0.0] for position, c in enumerate(ranking)]
    label = incident.label
    tools = CaseTools(incident.case_id, incident.system, (label.fault_type or "?") if label else "?",
                      label.root_cause if label else "", [c.entity for c in ranking],
                      [[round(float(v), 6) for v in r] for r in rows])
    return with_tamo(tools, tamo_ranking) if tamo_ranking is not None else tools


def with_tamo(tools: CaseTools, tamo_ranking: list[tuple[str, float]], in_sample: bool = False) -> CaseTools:
    """The same case with TAMO T2's columns from `tamo_ranking`: its score scaled to its best, and 1 / its rank."""
    tamo = dict(tamo_ranking)
    tamo_top = max(tamo.values(), default=0.0) or 1.0
    order = {e: i for i, (e, _) in enumerate(sorted(tamo.items(), key=lambda kv: (-kv[1], kv[0])))}
    score, rank = FEATURES.index("tamo"), FEATURES.index("tamo_rank")
    rows = [list(row) for row in tools.scores]
    for entity, row in zip(tools.entities, rows):
        row[score] = round(float(tamo.get(entity, 0.0) / tamo_top), 6)
        row[rank] = round(1.0 / (order[entity] + 1), 6) if entity in order else 0.0
    return replace(tools, scores=rows, has_tamo=True, tamo_in_sample=in_sample)


def dataset_tools(dataset: Path, tamo_checkpoint: Path | None = None, on_progress=None,
                  cache_dir: Path | None = None) -> list[CaseTools]:
    """CaseTools for every labelled case of a dataset folder, cached on disk by dataset + case + checkpoint + the
    version of the code that computes the signals."""
    from engine.config import settings
    from engine.provenance import code_version, file_sha256, in_sample_cases
    from engine.telemetry import list_cases, load_case

    refs = list_cases(dataset)
    cache = Path(cache_dir or settings().cache_root / "stacking")
    model = None
    sha = file_sha256(Path(tamo_checkpoint))[:16] if tamo_checkpoint else ""
    in_sample = set(in_sample_cases(Path(tamo_checkpoint), [r.case_id for r in refs])) if tamo_checkpoint else set()
    out = []
    for done, ref in enumerate(refs, start=1):
        key = hashlib.sha256(json.dumps([TOOLS_VERSION, code_version("telemetry"), str(Path(dataset).resolve()),
                                         ref.case_id, sha]).encode())
        path = cache / f"{key.hexdigest()[:24]}.json"
        if path.is_file():
            tools = CaseTools(**json.loads(path.read_text()))
        else:
            incident = load_case(dataset, ref.case_id)
            tamo_ranking = None
            if tamo_checkpoint is not None:  # TAMO's own feature cache, shared with `tamo train / eval`
                from engine.tamo import api
                from engine.tamo.dataset import case_features

                model = model or api.load_model(tamo_checkpoint)
                tamo_ranking = model.infer(case_features(Path(dataset), ref.case_id).features).ranking
            tools = case_tools(incident, tamo_ranking)
            cache.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(asdict(tools)))
        tools.tamo_in_sample = ref.case_id in in_sample
        if on_progress:
            on_progress(done, len(refs), ref.case_id)
        if tools.truth and tools.truth in tools.entities:
            out.append(tools)
    return out
