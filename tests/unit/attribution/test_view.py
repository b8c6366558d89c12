"""One Soft-IDG view for the export, the attribution event and the console."""
from __future__ import annotations

import json

import numpy as np

from engine.attribution.features import StepFeatures
from engine.attribution.pipeline import AttributionConfig, analyse, attribution_from_scores
from engine.attribution.view import SoftIdgView, soft_idg_view
from tests.unit.attribution.conftest import make_trajectory


def attributed():
    trajectory = make_trajectory([("human", "query", "What is the capital?"), ("Planner", "thought", "look it up"),
                                  ("Coder", "action", "assume it is Lyon"), ("Verifier", "message", "Lyon. TERMINATE")])
    n = len(trajectory.steps)
    noise = np.random.default_rng(0)
    features = StepFeatures(np.ones(n, bool), np.triu(noise.uniform(0.1, 1, (n, n)), 1),
                            noise.normal(size=(n, 8)).astype(np.float32), noise.uniform(1, 3, n),
                            noise.uniform(3, 6, n), np.full(n, 10.0))
    analysis = analyse(trajectory, features, AttributionConfig())
    return trajectory, attribution_from_scores(analysis, analysis.rule_score)


def test_view_names_the_blamed_step_and_keeps_each_steps_strongest_in_edges():
    trajectory, attribution = attributed()
    view = soft_idg_view(trajectory, attribution, max_in_edges=1, text_chars=4)
    assert (view.who, view.when, view.evidence_path) == (attribution.who, attribution.when, attribution.evidence_path)
    assert [node.text for node in view.nodes] == ["What", "look", "assu", "Lyon"]
    assert view.nodes[0].score is None, "the question is never a candidate"
    for node in view.nodes[1:]:
        (edge,) = node.in_edges
        assert edge.weight == round(float(attribution.graph[:, node.step].max()), 4)


def test_view_survives_json_and_reads_the_graph_older_events_stored():
    trajectory, attribution = attributed()
    view = soft_idg_view(trajectory, attribution)
    assert SoftIdgView.from_dict(json.loads(json.dumps(view.to_dict()))) == view
    older = {"nodes": [{"step": n.step, "agent": n.agent, "kind": n.kind, "text": n.text, "score": n.score}
                       for n in view.nodes],
             "edges": [{"from": source, "to": target, "weight": weight} for source, target, weight in view.edges()]}
    read = SoftIdgView.from_dict(older)
    assert read.edges() == view.edges() and [n.score for n in read.nodes] == [n.score for n in view.nodes]
