"""The LLM client against hostile or broken endpoints (raw sockets on 127.0.0.1): a trickling server meets the
deadline, raw bytes and short bodies are clear errors, a huge reply is refused unread, a redirect never carries
the key, an invented entity is never signed. Each time the run ends `failed` with its chain intact."""
import json
import socket
import threading
import time

import pytest

from engine.agents.workflow import RunFailed, Workflow
from engine.reasoners.heuristic import HeuristicReasoner
from engine.reasoners.openai_compat import EndpointConfig, OpenAICompatReasoner
from tests.unit.agents.test_openai_reasoner import ANSWERS


class RawServer:
    """Accepts connections and answers each with `respond(connection, request_bytes)`; records requests."""

    def __init__(self, respond):
        self.respond, self.requests = respond, []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(connection,), daemon=True).start()

    def _one(self, connection):
        with connection:
            request = _read_request(connection)
            self.requests.append(request)
            try:
                self.respond(connection, request)
            except OSError:
                pass


def _read_request(connection) -> bytes:
    """Headers and the Content-Length body: one recv may return only part of them on a busy machine."""
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = connection.recv(65536)
        if not chunk:
            return request
        request += chunk
    head, body = request.split(b"\r\n\r\n", 1)
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _reasoner(url, timeout=10.0):
    """A generous deadline, so that only the test about deadlines meets it on a loaded machine."""
    return OpenAICompatReasoner(EndpointConfig(url, "m", "sk-secret", timeout_s=timeout, retries=1))


def _failed_cleanly(session, incident, url, match, **kwargs):
    with pytest.raises(RunFailed, match=match):
        Workflow(session, _reasoner(url, **kwargs)).run(incident)
    assert session.runs()[0]["status"] == "failed"
    assert session.verify().ok


def test_a_server_trickling_one_byte_at_a_time_meets_the_deadline(session, incident):
    def trickle(connection, _):
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        for _ in range(100):
            connection.sendall(b" ")
            time.sleep(0.2)

    started = time.monotonic()
    _failed_cleanly(session, incident, RawServer(trickle).url, "within 1.5 s|deadline", timeout=1.5)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("raw", [b"\x00\x01garbage that is not HTTP\r\n\r\n",
                                 b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{\"choices\": ["])
def test_raw_bytes_or_a_short_body_are_a_clear_error(session, incident, raw):
    _failed_cleanly(session, incident, RawServer(lambda c, _: c.sendall(raw)).url, "cannot reach .*Error")


def test_a_huge_reply_is_refused_without_reading_it(session, incident):
    def huge(connection, _):
        connection.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 65536
        for _ in range(100):
            connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))

    _failed_cleanly(session, incident, RawServer(huge).url, "exceeds 1,000,000 bytes")


def test_a_redirect_is_not_followed_and_the_key_stays_home(session, incident):
    elsewhere = RawServer(lambda c, _: c.sendall(b"HTTP/1.1 500 no\r\nContent-Length: 0\r\n\r\n"))

    def redirect(connection, _):
        connection.sendall(f"HTTP/1.1 302 Found\r\nLocation: {elsewhere.url}/chat/completions\r\n"
                           "Content-Length: 0\r\n\r\n".encode())

    home = RawServer(redirect)
    _failed_cleanly(session, incident, home.url, "redirects to .*not followed")
    assert b"sk-secret" in home.requests[0] and elsewhere.requests == []


def _chat_reply(content: str) -> bytes:
    body = json.dumps({"choices": [{"message": {"content": content}}]}).encode()
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def test_an_invented_entity_falls_back_and_is_never_signed(session, incident):
    def inventing(connection, request):
        system = json.loads(request.split(b"\r\n\r\n", 1)[1])["messages"][0]["content"]
        role = system.split("You are the ", 1)[1].split(" of", 1)[0]
        answer = dict(ANSWERS.get(role, {"priority": "P1"}))
        if role == "data detective":
            answer = {"focus": ["payments-db"], "summary": "payments-db is down"}
        if "Vote on the proposed" in system:
            connection.sendall(_chat_reply('{"option": "for", "reason": "agreed"}'))
            return
        connection.sendall(_chat_reply(json.dumps({"thought": "done", "answer": answer})))

    result = Workflow(session, _reasoner(RawServer(inventing).url, timeout=5),
                      fallback=HeuristicReasoner()).run(incident)
    errors = [e.payload["error"] for e in session.run_events(result["run_id"]) if e.kind == "reasoner_error"]
    assert any("payments-db" in error and "not entities of this incident" in error for error in errors)
    signed = session.conn.execute("SELECT group_concat(payload) FROM transactions").fetchone()[0]
    assert "payments-db" not in signed and session.verify().ok
