"""Log channels on the grid and a log-semantics vector per entity.

Templates: the loader already masks ids and numbers; drain3 then clusters the masked lines into templates
(one miner per incident, reference lines first), so a "new" template is one the fault-free minutes never
produced for that entity. Semantics: hashed words of the entity's new and error templates (system-agnostic,
so a model trained on one system reads another's logs).
"""

from __future__ import annotations

import logging
import re
import zlib
from collections import Counter, defaultdict

import numpy as np

from engine.telemetry.model import Incident, LogRecord
from engine.tamo.grid import Grid

LOG_CHANNELS = ("log_count", "log_errors", "log_new_templates")
SEMANTIC_DIM = 16
WORD = re.compile(r"[A-Za-z]{3,}")


def log_channels(incident: Incident, grid: Grid, index: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """([N, T, len(LOG_CHANNELS)], has_log [T], semantics [N, SEMANTIC_DIM])."""
    out = np.zeros((len(index), grid.steps, len(LOG_CHANNELS)))
    semantics = np.zeros((len(index), SEMANTIC_DIM))
    minutes = [list(minute.logs) for minute in incident.reference if minute.logs]
    records = _logs_on_grid(incident, grid)
    if not records or not minutes:
        return out, np.zeros(grid.steps), semantics
    cluster_of = _cluster_templates([r.template for m in minutes for r in m] + [r.template for r in records])
    known = {(r.entity, cluster_of[r.template]) for minute in minutes for r in minute}
    usual = _usual_counts(minutes)
    bins = grid.bin_of(np.array([r.time for r in records]))
    counts, errors, new = Counter(), Counter(), Counter()
    fresh_words: dict[str, Counter] = defaultdict(Counter)
    for record, b in zip(records, bins):
        key = (record.entity, int(b))
        counts[key] += 1
        errors[key] += record.level == "ERROR"
        if (record.entity, cluster_of[record.template]) not in known:
            new[key] += 1
        if record.level == "ERROR" or (record.entity, cluster_of[record.template]) not in known:
            fresh_words[record.entity].update(w.lower() for w in WORD.findall(record.template))
    for (entity, b), n in counts.items():
        if entity in index:
            row = out[index[entity], b]
            row[:] = np.log((n + 1.0) / (usual.get(entity, 0.0) + 1.0)), np.log1p(errors[entity, b]), np.log1p(new[entity, b])
    for entity, words in fresh_words.items():
        if entity in index:
            semantics[index[entity]] = _hashed(words)
    has_log = np.zeros(grid.steps)
    has_log[sorted({int(b) for b in bins})] = 1.0
    return out, has_log, semantics


def _logs_on_grid(incident: Incident, grid: Grid) -> list[LogRecord]:
    candidates = list(incident.logs) + [r for minute in incident.reference for r in minute.logs]
    return grid.within(candidates, lambda record: record.time)


def _cluster_templates(templates: list[str]) -> dict[str, int]:
    """Masked line -> drain3 cluster id; each distinct line is mined once, in first-seen order."""
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    logging.getLogger("drain3").setLevel(logging.WARNING)
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    miner = TemplateMiner(config=config)
    return {text: miner.add_log_message(text)["cluster_id"] for text in dict.fromkeys(templates)}


def _usual_counts(minutes: list[list[LogRecord]]) -> dict[str, float]:
    per_minute = [Counter(r.entity for r in minute) for minute in minutes]
    entities = set().union(*per_minute)
    return {e: float(np.median([c[e] for c in per_minute])) for e in entities}


def _hashed(words: Counter) -> np.ndarray:
    vector = np.zeros(SEMANTIC_DIM)
    for word, n in words.items():
        vector[zlib.crc32(word.encode()) % SEMANTIC_DIM] += np.log1p(n)
    norm = np.linalg.norm(vector)
    return vector / norm if norm > 0 else vector
