"""The SLM window of an engine run reads every agent step of the study's longest runs: a faulty step outside the
window cannot be named at all (at 640 tokens the Probability Oracle's answer, mid-run, was sampled away)."""
from __future__ import annotations

from dataclasses import replace

from engine.attribution.layout import build_chunks
from engine.attribution.slm import load_model
from engine.runs.attribution import engine_run_config
from tests.unit.attribution.conftest import make_trajectory

_ROW = '{"entity": "ts-order-service", "score": 0.041, "summary": "SELECT ts.orders takes 1.09 ms"} ' * 20


def _long_run():
    """86 steps like the study's longest runs: 26 tool outputs, each agent's thought and action around them."""
    steps = []
    for turn in range(26):
        agent = f"agent_{turn % 7}"
        steps += [(agent, "thought", f"Check {turn}: which service stands out? " * 5),
                  (agent, "action", f"Action: baseline_compare({{\"entity\": \"service-{turn}\"}}) " * 5),
                  (agent, "observation", f"Observation from baseline_compare: {_ROW}")]
    steps += [("agent_4", "tx", "Vote for: service-3 scores 0.42 (best 0.42) " * 5)] * 8
    return make_trajectory(steps)


def test_every_agent_step_of_a_long_run_is_read(tiny_model_dir):
    _, tokenizer = load_model(str(tiny_model_dir))
    run = _long_run()
    agent_steps = {s.index for s in run.steps if s.kind != "observation"}
    features = engine_run_config().features
    [window] = build_chunks(run, tokenizer, features)
    assert len(window.token_ids) <= features.max_tokens
    assert agent_steps <= set(window.own)
    [narrow] = build_chunks(run, tokenizer, replace(features, max_tokens=640))
    assert not agent_steps <= set(narrow.own)  # the previous window lost some of them
