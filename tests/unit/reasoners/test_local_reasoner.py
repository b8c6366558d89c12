"""The local reasoner: even a random model's replies are in schema, so they pass the checks and drive a run."""
from __future__ import annotations

import json

import pytest

from engine.reasoners.base import Observation, StepRequest, ToolSpec, VoteRequest
from engine.reasoners.replies import ANSWER_KEYS, step_from_reply, vote_from_reply
from engine.reasoners.schemas import step_schema, vote_schema
from engine.runs.runner import make_reasoner, run_incident
from rca_tui.cli.runs import load_local_model
from tests.tiny_llm import build_tiny_llama
from tests.unit.agents.conftest import make_incident

TOOLS = [ToolSpec("metric_query", "metrics", {"entity": "service name"}),
         ToolSpec("dependencies", "callers or callees", {"entity": "service name", "direction": "upstream|downstream"}),
         ToolSpec("rank_candidates", "ranking", {"k": "how many"})]
ENTITIES = ["frontend", "cart", "redis"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    corpus = ['{"thought": "check the metrics", "tool": "metric_query", "args": {"entity": "redis"}}',
              '{"option": "for", "reason": "cpu of redis is high"}', "frontend cart redis latency error"]
    return str(build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), corpus))


@pytest.fixture(scope="module")
def local(tiny_model):
    return make_reasoner("local", llm_model=tiny_model, model_loader=load_local_model)


def request(role: str, step: int) -> StepRequest:
    return StepRequest(role=role, duty="find the cause", task="frontend is slow", alert={"entity": "frontend"},
                       entities=ENTITIES, tools=TOOLS, history=[("look", Observation("metric_query", {}, {"x": 1}))],
                       step=step, max_steps=20)


@pytest.mark.parametrize("role", sorted(ANSWER_KEYS))
def test_every_role_gets_an_in_schema_reply_from_a_random_model(local, role):
    for step in (0, 19):  # free to call a tool; the last step must answer
        reply = local.decoder.complete("Reply in JSON:", step_schema(request(role, step)))
        decision = step_from_reply(reply, request(role, step))
        assert decision.thought.strip()
        if step == 19:
            assert set(ANSWER_KEYS[role]) <= set(decision.answer)


def test_a_vote_is_one_of_the_three_options(local):
    reply = json.loads(local.decoder.complete("Vote:", vote_schema()))
    assert vote_from_reply(json.dumps(reply)).option in ("for", "against", "abstain")


def test_a_whole_run_uses_the_local_replies_as_given(local, tmp_path):
    from engine.clock import FixedClock
    from engine.reasoners.tally import ReplyTally
    from engine.runs.session import Session

    tally = ReplyTally(local)
    result = run_incident(Session(tmp_path / "rca.db", clock=FixedClock()), make_incident(), tally)
    assert result["status"] in ("finished", "no_consensus")
    summary = tally.summary()
    assert summary["replies"] > 7 and summary["used_as_given"] == summary["replies"]
    events = Session(tmp_path / "rca.db").run_events(result["run_id"])
    assert not [e for e in events if e.kind == "reasoner_error"]


def test_unknown_model_path_is_a_clear_reasoner_error(tmp_path):
    from engine.reasoners.base import ReasonerError

    with pytest.raises(ReasonerError, match="nowhere"):
        make_reasoner("local", llm_model=str(tmp_path / "nowhere"), model_loader=load_local_model)
