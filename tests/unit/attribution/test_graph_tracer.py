from __future__ import annotations

import numpy as np

from engine.attribution.features import StepFeatures
from engine.attribution.graph import GraphConfig, build_soft_idg, find_citations
from engine.attribution.pipeline import AttributionConfig, analyse, attribution_from_scores
from engine.attribution.tracer import (
    TracerConfig,
    evidence_path,
    failure_steps,
    influence_ppr,
    path_strength,
)
from tests.unit.attribution.conftest import make_trajectory


def chain_trajectory(n: int, contents: dict[int, str] | None = None):
    contents = contents or {}
    return make_trajectory([(f"A{i % 2}", "message", contents.get(i, f"step text {i}")) for i in range(n)])


def uniform_attention(n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.triu(rng.uniform(0.01, 0.1, (n, n)), k=1)


def test_top_m_pruning_min_in_edges_and_l1_renormalisation():
    n = 6
    trajectory = chain_trajectory(n)
    weights = build_soft_idg(trajectory, uniform_attention(n), np.ones(n, bool), np.ones(n),
                             GraphConfig(top_m=2, min_edge_weight=10.0, min_in_edges=1))
    in_degree = (weights > 0).sum(axis=0)
    assert in_degree[0] == 0 and (in_degree[1:] == 1).all()  # threshold prunes all but the kept minimum
    weights = build_soft_idg(trajectory, uniform_attention(n), np.ones(n, bool), np.ones(n), GraphConfig(top_m=2))
    assert ((weights > 0).sum(axis=0)[2:] == 2).all()
    assert np.allclose(weights[:, 1:].sum(axis=0), 1.0)


def test_context_policy_limits_edges():
    n = 6
    trajectory = make_trajectory([("A", "message", f"x{i}") for i in range(n)])
    windowed = trajectory.__class__(
        id="w", query="", steps=tuple(s.__class__(index=s.index, agent=s.agent, kind=s.kind, content=s.content,
                                                   context=tuple(range(max(0, s.index - 1), s.index)))
                                     for s in trajectory.steps))
    weights = build_soft_idg(windowed, uniform_attention(n), np.ones(n, bool), np.ones(n), GraphConfig(top_m=5))
    assert set(zip(*np.nonzero(weights))) == {(i, i + 1) for i in range(n - 1)}


def test_explicit_citation_becomes_the_strongest_in_edge():
    trajectory = chain_trajectory(5, {4: "As shown in step 0, CITED_UIDS=[1]"})
    assert find_citations(trajectory) == {4: {0, 1}}
    attention = uniform_attention(5)
    attention[3, 4] = 0.9
    boosted = build_soft_idg(trajectory, attention, np.ones(5, bool), np.ones(5), GraphConfig(top_m=1, citation_boost=2.0))
    plain = build_soft_idg(trajectory, attention, np.ones(5, bool), np.ones(5), GraphConfig(top_m=1, citation_boost=0.0))
    assert np.argmax(plain[:, 4]) == 3 and np.argmax(boosted[:, 4]) in (0, 1)


def test_influence_flows_back_along_the_dependency_chain():
    weights = np.zeros((5, 5))
    weights[0, 2] = weights[2, 4] = 1.0  # 0 -> 2 -> 4; steps 1 and 3 are not on the chain
    weights[1, 3] = 1.0
    ranks = influence_ppr(weights, [4])
    assert ranks[2] > ranks[0] > 0 and ranks[1] == ranks[3] == 0
    assert path_strength(weights, [4]).tolist() == [1.0, 0.0, 1.0, 0.0, 1.0]
    assert evidence_path(weights, 0, [4]) == [0, 2, 4]
    assert evidence_path(weights, 1, [4]) == [1, 4]  # not connected: the path says so by jumping to the failure


def test_failure_step_strategies():
    trajectory = chain_trajectory(5, {2: "Traceback (most recent call last): KeyError"})
    kept = np.ones(5, bool)
    anomaly = np.array([0.0, 0.1, 0.2, 3.0, 0.3])
    assert failure_steps(trajectory, kept, anomaly, "final") == [4]
    assert failure_steps(trajectory, kept, anomaly, "max_anomaly") == [3]
    assert failure_steps(trajectory, kept, anomaly, "first_error") == [2]
    assert failure_steps(trajectory, kept, anomaly, "multi") == [2, 3, 4]


def test_rule_tracer_names_the_upstream_step_the_failure_depends_on():
    n = 6
    trajectory = make_trajectory([("human", "query", "q"), ("Planner", "thought", "plan"),
                                  ("Coder", "action", "wrong code"), ("Terminal", "observation", "output"),
                                  ("Helper", "message", "chit-chat"), ("Verifier", "message", "final answer")])
    attention = np.full((n, n), 0.001)
    attention[2, 3] = attention[3, 5] = attention[2, 5] = 0.5
    attention = np.triu(attention, k=1)
    features = StepFeatures(np.ones(n, bool), attention, np.eye(n, 8, dtype=np.float32), np.ones(n), np.ones(n), np.ones(n))
    config = AttributionConfig(tracer=TracerConfig(anomaly_weight=0.0), graph=GraphConfig(top_m=2))
    analysis = analyse(trajectory, features, config)
    result = attribution_from_scores(analysis, analysis.rule_score, config)
    assert (result.when, result.who) == (2, "Coder")
    assert result.evidence_path[0] == 2 and result.evidence_path[-1] == 5
    assert all(row["step"] not in (0, 3) for row in result.ranking)  # the question and tool output are not causes


def test_rule_tracer_names_the_agent_of_the_influential_step_not_the_most_talkative_one():
    # Chatty speaks five times (all barely read); Coder once, and the final answer rests on that step. With a flat
    # agent mass (temperature 1) the step count wins, which made every ablation name the same agent.
    contents = [("human", "query", "q"), ("Coder", "action", "wrong code")]
    contents += [("Chatty", "message", f"remark {i}") for i in range(5)] + [("Verifier", "message", "final answer")]
    n = len(contents)
    trajectory = make_trajectory(contents)
    attention = np.triu(np.full((n, n), 0.001), k=1)
    attention[1, 2:] = 0.5
    features = StepFeatures(np.ones(n, bool), attention, np.eye(n, 12, dtype=np.float32), np.ones(n), np.ones(n),
                            np.ones(n))
    sharp = AttributionConfig(tracer=TracerConfig(anomaly_weight=0.0), graph=GraphConfig(top_m=1))
    flat = AttributionConfig(tracer=TracerConfig(anomaly_weight=0.0, temperature=1.0), graph=GraphConfig(top_m=1))
    results = {}
    for name, config in (("sharp", sharp), ("flat", flat)):
        analysis = analyse(trajectory, features, config)
        results[name] = attribution_from_scores(analysis, analysis.rule_score, config)
    assert (results["sharp"].who, results["sharp"].when) == ("Coder", 1)
    assert results["flat"].who == "Chatty"


def test_reach_does_not_fade_with_distance_the_way_pagerank_does():
    from engine.attribution.tracer import influence_ppr, influence_reach

    chain = np.zeros((6, 6))
    for step in range(5):
        chain[step, step + 1] = 1.0  # every step reads only the one before it
    reach = influence_reach(chain, [5])
    assert np.allclose(reach[:5], 1.0) and reach[5] == 0.0  # every ancestor is passed, the failure is not its own cause
    pagerank = influence_ppr(chain, [5])
    assert pagerank[4] > pagerank[1] > pagerank[0]
