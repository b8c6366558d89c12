"""The OpenAI-compatible reasoner against a local HTTP server on 127.0.0.1 that the test starts."""
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from engine.agents.workflow import RunFailed, Workflow
from engine.reasoners.heuristic import HeuristicReasoner
from engine.reasoners.openai_compat import EndpointConfig, OpenAICompatReasoner

ANSWERS = {
    "alert receiver": {"priority": "P1", "summary": "frontend latency"},
    "process scheduler": {"subtasks": ["collect", "rank"]},
    "data detective": {"focus": ["redis"], "summary": "redis CPU x4 over its baseline"},
    "dependency explorer": {"downstream": {"frontend": ["cart", "redis"]}},
    "probability oracle": {"candidates": [{"entity": "redis", "score": 0.9, "reason": "CPU x4"}]},
    "fault mapper": {"fault_web": {"redis": ["frontend", "cart", "redis"]}},
    "solution engineer": {"repair_steps": [{"step_id": 1, "action": "scale redis", "description": "CPU x4"}]},
}


class FakeLLM(BaseHTTPRequestHandler):
    mode = "valid"
    requests: list = []
    refuses = staticmethod(lambda body: False)  # a request the server answers with `refusal`
    refusal = 400

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeLLM.requests.append(body)
        if self.mode == "error500":
            self.send_response(500)
            self.end_headers()
            return
        if FakeLLM.refuses(body):
            raw = b'{"error": {"message": "unsupported response_format"}}'
            self.send_response(FakeLLM.refusal)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
            return
        content = self.reply(body["messages"][0]["content"])
        raw = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def reply(self, system: str) -> str:
        if self.mode == "garbage":
            return "I think it is probably the database, hard to say."
        if "Vote on the proposed root cause" in system:
            return '{"option": "for", "reason": "my evidence agrees"}'
        role = re.match(r"You are the ([a-z ]+) of", system).group(1)
        answer = dict(ANSWERS[role])
        if self.mode == "hallucinate" and role == "probability oracle":
            answer = {"candidates": [{"entity": "inventory-service", "score": 0.99}]}
        return "```json\n" + json.dumps({"thought": f"{role} done", "answer": answer}) + "\n```"

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoint():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeLLM)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeLLM.requests = []
    FakeLLM.refuses = staticmethod(lambda body: False)
    FakeLLM.refusal = 400
    yield server, f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def reasoner(url: str, timeout: float = 5.0) -> OpenAICompatReasoner:
    return OpenAICompatReasoner(EndpointConfig(url, "fake-model", "sk-test", timeout_s=timeout, retries=1))


def test_valid_replies_drive_a_full_run(endpoint, session, incident):
    FakeLLM.mode = "valid"
    result = Workflow(session, reasoner(endpoint[1])).run(incident)
    assert result["root_cause"] == "redis" and result["status"] == "finished"
    assert result["repair_steps"][0]["action"] == "scale redis"
    assert FakeLLM.requests[0]["model"] == "fake-model"
    assert session.verify().ok


def test_garbage_reply_stops_the_run_cleanly(endpoint, session, incident):
    FakeLLM.mode = "garbage"
    with pytest.raises(RunFailed, match="not a JSON object"):
        Workflow(session, reasoner(endpoint[1])).run(incident)
    assert session.verify().ok and session.runs()[0]["status"] == "failed"


def test_garbage_reply_falls_back_to_the_heuristic_and_is_recorded(endpoint, session, incident):
    FakeLLM.mode = "garbage"
    result = Workflow(session, reasoner(endpoint[1]), fallback=HeuristicReasoner()).run(incident)
    assert result["root_cause"] == "redis"
    errors = [e for e in session.run_events(result["run_id"]) if e.kind == "reasoner_error"]
    assert errors and errors[0].payload["fallback"] == "heuristic"


def test_hallucinated_entity_is_refused(endpoint, session, incident):
    FakeLLM.mode = "hallucinate"
    with pytest.raises(RunFailed, match="inventory-service.*not an entity"):
        Workflow(session, reasoner(endpoint[1])).run(incident)


def test_server_errors_are_retried_then_reported(endpoint, session, incident):
    FakeLLM.mode = "error500"
    with pytest.raises(RunFailed, match="HTTP 500.*after 2 attempts"):
        Workflow(session, reasoner(endpoint[1])).run(incident)
    assert len(FakeLLM.requests) == 2


def test_endpoint_down_is_a_clear_error_and_the_chain_stays_consistent(session, incident):
    with pytest.raises(RunFailed, match="cannot reach http://127.0.0.1:9"):
        Workflow(session, reasoner("http://127.0.0.1:9/v1", timeout=0.5)).run(incident)
    assert session.verify().ok


def _form(body: dict) -> str:
    response_format = body.get("response_format")
    if response_format is None:
        return "none"
    return response_format["type"] + ("+schema" if "schema" in response_format else "")


def test_every_request_asks_for_the_reply_schema(endpoint, session, incident):
    FakeLLM.mode = "valid"
    Workflow(session, reasoner(endpoint[1])).run(incident)
    first = FakeLLM.requests[0]
    vote = next(body for body in FakeLLM.requests if body["response_format"]["json_schema"]["name"] == "vote")
    assert {_form(body) for body in FakeLLM.requests} == {"json_schema"}
    step_schema = first["response_format"]["json_schema"]["schema"]
    tools = {shape["properties"]["tool"]["enum"][0] for shape in step_schema["anyOf"] if "tool" in shape["properties"]}
    assert tools and tools == set(re.findall(r"- ([a-z_]+)\(", first["messages"][0]["content"]))
    answer = next(shape for shape in step_schema["anyOf"] if "answer" in shape["properties"])["properties"]["answer"]
    assert answer["required"] == ["priority"]  # the alert receiver's answer key
    assert vote["response_format"]["json_schema"]["schema"]["properties"]["option"]["enum"] == [
        "for", "against", "abstain"]


def test_entity_keyed_answers_reach_the_server_as_one_key_per_entity(endpoint, session, incident):
    """llama.cpp's grammar ignores `propertyNames`: a small model then wrote 'tamo_report_path' as a downstream key
    and the run stopped. The schema sent names every allowed key."""
    FakeLLM.mode = "valid"
    Workflow(session, reasoner(endpoint[1])).run(incident)
    sent = [json.dumps(body["response_format"]) for body in FakeLLM.requests]
    assert all("propertyNames" not in text for text in sent)
    explorer = next(body for body in FakeLLM.requests
                    if body["messages"][0]["content"].startswith("You are the dependency explorer"))
    shapes = explorer["response_format"]["json_schema"]["schema"]["anyOf"]
    answer = next(shape for shape in shapes if "answer" in shape["properties"])["properties"]["answer"]
    keys = {key for option in answer["properties"]["downstream"]["anyOf"] for key in option["properties"]}
    assert keys == set(incident.entities)


def test_a_server_refusing_json_schema_gets_json_mode_and_the_client_remembers(endpoint, session, incident):
    FakeLLM.mode = "valid"
    FakeLLM.refuses = staticmethod(lambda body: _form(body) != "json_object")
    client = reasoner(endpoint[1])
    result = Workflow(session, client).run(incident)
    assert result["status"] == "finished" and client.response_format == "json_object"
    forms = [_form(body) for body in FakeLLM.requests]
    assert forms[:3] == ["json_schema", "json_object+schema", "json_object"]
    assert set(forms[3:]) == {"json_object"}  # asked once, remembered for every later call


def test_a_server_failing_on_a_form_it_does_not_know_gets_the_next_one(endpoint, session, incident):
    FakeLLM.mode, FakeLLM.refusal = "valid", 500  # llama-cpp-python's server: a 500 that names the response_format
    FakeLLM.refuses = staticmethod(lambda body: _form(body) == "json_schema")
    client = reasoner(endpoint[1])
    Workflow(session, client).run(incident)
    assert client.response_format == "json_object+schema"
    assert [_form(body) for body in FakeLLM.requests[:3]] == ["json_schema", "json_object+schema",
                                                              "json_object+schema"]


def test_a_server_refusing_any_response_format_is_asked_without_one(endpoint, session, incident):
    FakeLLM.mode = "valid"
    FakeLLM.refuses = staticmethod(lambda body: "response_format" in body)
    client = reasoner(endpoint[1])
    assert Workflow(session, client).run(incident)["root_cause"] == "redis"
    assert client.response_format == "none" and _form(FakeLLM.requests[-1]) == "none"


def test_a_request_refused_whatever_its_format_is_an_error_and_changes_nothing(endpoint, session, incident):
    FakeLLM.mode = "valid"
    FakeLLM.refuses = staticmethod(lambda body: True)  # e.g. a prompt longer than the server's context
    client = reasoner(endpoint[1])
    with pytest.raises(RunFailed, match="HTTP 400 .*unsupported response_format"):
        Workflow(session, client).run(incident)
    assert len(FakeLLM.requests) == 4 and client.response_format == "json_schema"


def test_response_format_none_sends_none(endpoint, session, incident):
    FakeLLM.mode = "valid"
    client = OpenAICompatReasoner(EndpointConfig(endpoint[1], "m", response_format="none"))
    Workflow(session, client).run(incident)
    assert {_form(body) for body in FakeLLM.requests} == {"none"}


def test_the_run_command_prints_the_replies_used_as_given_and_the_form_asked_for(endpoint, tmp_path):
    from typer.testing import CliRunner

    from engine.config import DEMO_DIR
    from rca_tui.cli.main import app

    FakeLLM.mode = "garbage"
    FakeLLM.refuses = staticmethod(lambda body: _form(body) == "json_schema")
    result = CliRunner().invoke(app, ["run", "tt-2023-01-29-18", "--dataset", str(DEMO_DIR), "--reasoner", "openai",
                                      "--llm-url", endpoint[1], "--fallback", "--db", str(tmp_path / "rca.db")])
    assert result.exit_code == 0, result.output
    asked = len(FakeLLM.requests) - 1  # the first was refused and asked again
    assert f"replies used as given: 0 of {asked} ({asked} failed the checks; response_format json_object+schema)" \
        in result.output
