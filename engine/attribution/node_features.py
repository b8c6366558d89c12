"""Per-step features for the learned tracer. Every feature is read from the trajectory itself (its text, its
structure, the SLM's white-box signals), never from an agent's name, so a model cannot just learn which agent
usually fails. Feature groups can be switched off for ablations:

* ``position``: where the step is and how often its agent has spoken (the structural prior);
* ``text``: what the step and the step after it say (errors, code, made-up data, the final answer);
* ``slm``: surprisal, anomaly, attention in/out mass, influence from the failure step;
* ``ground_truth``: whether the step states the known correct answer (only "with GT").
"""
from __future__ import annotations

import re
from collections import Counter

import numpy as np

from engine.attribution.detector import zscore
from engine.attribution.pipeline import Analysis
from engine.attribution.tracer import minmax

FEATURE_GROUPS = ("position", "text", "slm", "ground_truth")
_ERROR = re.compile(r"\b(error|exception|traceback|failed|exitcode: [1-9]|not found|unable to|cannot)\b", re.I)
_CODE = re.compile(r"```|\bdef |\bimport |\bprint\(")
_MADE_UP = re.compile(r"\b(assume|assuming|hypothetical|placeholder|example data|simulat\w*|mock|dummy)\b", re.I)
_FINAL = re.compile(r"\b(final answer|TERMINATE|in conclusion|the answer is)\b", re.I)
_WORD = re.compile(r"[a-z0-9]+")


def feature_names(groups: tuple[str, ...]) -> list[str]:
    names = {
        "position": ["rel_position", "log_position", "first_candidate", "agent_turn_log", "agent_first_turn",
                     "agent_share", "kind_thought", "kind_action", "agent_opens"],
        "text": ["log_chars", "has_code", "has_error", "next_has_error", "made_up_data", "final_marker",
                 "query_overlap", "numbers_log"],
        "slm": ["nll_mean_z", "nll_max_z", "anomaly", "reconstruction_z", "prototype_z", "influence",
                "rule_score", "out_attention_z", "in_attention_z", "kept"],
        "ground_truth": ["gt_in_step", "gt_word_recall", "gt_first_mention"],
    }
    return [name for group in groups for name in names[group]]


def node_features(analysis: Analysis, groups: tuple[str, ...], with_ground_truth: bool) -> np.ndarray:
    builders = {"position": _position, "text": _text, "slm": _slm, "ground_truth": _ground_truth}
    columns = []
    for group in groups:
        block = builders[group](analysis)
        if group == "ground_truth" and not with_ground_truth:
            block = np.zeros_like(block)
        columns.append(block)
    return np.concatenate(columns, axis=1).astype(np.float32)


def _position(analysis: Analysis) -> np.ndarray:
    steps, candidates = analysis.trajectory.steps, analysis.candidates
    n = len(steps)
    candidate_indices = np.nonzero(candidates)[0]
    shares = Counter(steps[i].agent for i in candidate_indices)
    opener = steps[candidate_indices[0]].agent
    turns: Counter = Counter()
    rows = []
    for step in steps:
        rows.append([
            step.index / max(1, n - 1),
            np.log1p(step.index),
            float(step.index == candidate_indices[0]),
            np.log1p(turns[step.agent]),
            float(turns[step.agent] == 0),
            shares[step.agent] / len(candidate_indices),
            float(step.kind == "thought"),
            float(step.kind == "action"),
            float(step.agent == opener),
        ])
        turns[step.agent] += 1
    return np.array(rows)


def _text(analysis: Analysis) -> np.ndarray:
    steps = analysis.trajectory.steps
    query_words = set(_WORD.findall(analysis.trajectory.query.lower()))
    rows = []
    for step in steps:
        following = steps[step.index + 1].content if step.index + 1 < len(steps) else ""
        words = set(_WORD.findall(step.content.lower()))
        rows.append([
            np.log1p(len(step.content)),
            float(bool(_CODE.search(step.content))),
            float(bool(_ERROR.search(step.content))),
            float(bool(_ERROR.search(following))),
            float(bool(_MADE_UP.search(step.content))),
            float(bool(_FINAL.search(step.content))),
            len(words & query_words) / max(1, len(query_words)),
            np.log1p(len(re.findall(r"\d+(?:\.\d+)?", step.content))),
        ])
    return np.array(rows)


def _slm(analysis: Analysis) -> np.ndarray:
    features, kept = analysis.features, analysis.features.kept
    out_mass = analysis.graph.sum(axis=1)
    in_mass = features.attention.sum(axis=0)
    return np.stack([
        zscore(features.nll_mean, kept),
        zscore(features.nll_max, kept),
        analysis.anomaly.total,
        zscore(analysis.anomaly.reconstruction, kept),
        zscore(analysis.anomaly.prototype, kept),
        minmax(analysis.influence, analysis.candidates),
        np.where(np.isfinite(analysis.rule_score), analysis.rule_score, 0.0),
        zscore(out_mass, kept),
        zscore(in_mass, kept),
        kept.astype(float),
    ], axis=1)


def _ground_truth(analysis: Analysis) -> np.ndarray:
    truth = (analysis.trajectory.ground_truth or "").strip().lower()
    truth_words = set(_WORD.findall(truth))
    rows, mentioned = [], False
    for step in analysis.trajectory.steps:
        text = step.content.lower()
        present = bool(truth) and truth in text
        words = set(_WORD.findall(text))
        rows.append([float(present), len(words & truth_words) / max(1, len(truth_words)),
                     float(present and not mentioned)])
        mentioned |= present
    return np.array(rows)
