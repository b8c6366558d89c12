"""Any OpenAI-compatible chat endpoint (base URL, model, key from flags or the environment), over httpx.

One deadline bounds each call, retries included, even against a server that trickles its reply; a reply larger
than `max_reply_bytes` is refused unread; redirects are not followed, so the key goes only to the configured
URL; connection errors, timeouts and 5xx replies are retried with back-off. Every failure, and a reply that is
malformed or off the schema, raises ReasonerError with the reason, so the workflow can record it and fall back or
stop cleanly.

Structured output: each request carries the reply's JSON Schema (`schemas`, the shapes the checks accept) as
`response_format`, so a server that constrains decoding (vLLM, llama.cpp, Ollama, OpenAI) keeps even a small
model inside it. Servers differ in what they take; a request refused with 400 or 422 (or a 5xx whose error names
the response_format) is sent again with the next weaker form (see RESPONSE_FORMATS), and the first form the server
accepts is kept for the client's later calls.
"""
from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.config import settings
from engine.reasoners.base import ReasonerError, StepDecision, StepRequest, VoteDecision, VoteRequest
from engine.reasoners.prompts import step_prompt, vote_prompt
from engine.reasoners.replies import step_from_reply, vote_from_reply
from engine.reasoners.schemas import portable, step_schema, vote_schema

if TYPE_CHECKING:
    import httpx

MAX_REPLY_BYTES = 1_000_000  # a chat completion for one agent step is a few kB
MAX_REPLY_TOKENS = 512  # a step is at most a few hundred tokens; bounds a model that rambles inside a string
# strongest first: OpenAI's JSON Schema form (vLLM, Ollama, llama.cpp's llama-server); JSON mode with the schema
# beside it (llama-cpp-python's server turns it into a grammar); plain JSON mode; nothing
RESPONSE_FORMATS = ("json_schema", "json_object+schema", "json_object", "none")


class _Transient(ReasonerError):
    """Worth another attempt: unreachable, timed out, a 5xx."""


class _Refused(ReasonerError):
    """The server refused the request as malformed (400, 422, or an error naming the response_format)."""


@dataclass(frozen=True)
class EndpointConfig:
    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 60.0
    retries: int = 2
    max_reply_bytes: int = MAX_REPLY_BYTES
    response_format: str = RESPONSE_FORMATS[0]
    """The strongest structured-output form to try (one of RESPONSE_FORMATS); "none" sends none."""

    @classmethod
    def from_env(cls, base_url: str | None = None, model: str | None = None, api_key: str | None = None,
                 timeout_s: float = 60.0, retries: int = 2,
                 response_format: str = RESPONSE_FORMATS[0]) -> EndpointConfig:
        env = settings()
        url = base_url or env.llm_url
        if not url:
            raise ReasonerError("no endpoint: pass --llm-url or set RCA_TUI_LLM_URL / OPENAI_BASE_URL")
        if response_format not in RESPONSE_FORMATS:
            raise ReasonerError(f"response format {response_format!r}: choose one of {', '.join(RESPONSE_FORMATS)}")
        return cls(url.rstrip("/"), model or env.llm_model, api_key or env.llm_key, timeout_s, retries,
                   response_format=response_format)


class OpenAICompatReasoner:
    name = "openai"

    def __init__(self, config: EndpointConfig):
        self.config = config
        self.url = f"{config.base_url}/chat/completions"
        self.response_format = config.response_format
        """The form the server last accepted (it starts as the configured one)."""

    def next_step(self, request: StepRequest) -> StepDecision:
        return step_from_reply(self._chat(step_prompt(request), "step", portable(step_schema(request))), request)

    def vote(self, request: VoteRequest) -> VoteDecision:
        return vote_from_reply(self._chat(vote_prompt(request), "vote", vote_schema()))

    def _chat(self, messages: list[dict], name: str, schema: dict) -> str:
        """The reply's text, asking for the strongest structured output the server takes; all within one
        deadline."""
        deadline = time.monotonic() + self.config.timeout_s
        forms = RESPONSE_FORMATS[RESPONSE_FORMATS.index(self.response_format):]
        for form in forms[:-1]:
            try:
                return self._asking(form, deadline, messages, name, schema)
            except _Refused:
                continue  # kept only once a weaker form is accepted: a 400 for another cause changes nothing
        return self._asking(forms[-1], deadline, messages, name, schema)

    def _asking(self, form: str, deadline: float, messages: list[dict], name: str, schema: dict) -> str:
        request = {"model": self.config.model, "messages": messages, "temperature": 0,
                   "max_tokens": MAX_REPLY_TOKENS, **_response_format(form, name, schema)}
        content = self._exchange(deadline, json.dumps(request).encode())
        self.response_format = form
        return content

    def _exchange(self, deadline: float, body: bytes) -> str:
        last_error = ""
        for attempt in range(self.config.retries + 1):
            try:
                return _content(self._within(deadline, body))
            except _Transient as exc:
                last_error = str(exc)
            pause = 0.5 * 2 ** attempt
            if attempt == self.config.retries or time.monotonic() + pause >= deadline:
                break
            time.sleep(pause)
        raise ReasonerError(f"{last_error} (after {attempt + 1} attempts)")

    def _within(self, deadline: float, body: bytes) -> bytes:
        """One POST that returns or fails by `deadline`; it runs in a daemon thread because no socket timeout
        stops a server that sends one byte at a time."""
        outcome: queue.Queue = queue.Queue(maxsize=1)

        def exchange() -> None:
            try:
                outcome.put((True, self._post(deadline, body)))
            except Exception as exc:  # handed to the caller's thread, which raises it
                outcome.put((False, exc))

        threading.Thread(target=exchange, daemon=True, name="llm-call").start()
        try:
            done, value = outcome.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise _Transient(f"no complete reply from {self.url} within {self.config.timeout_s:g} s") from None
        if done:
            return value
        raise value

    def _post(self, deadline: float, body: bytes) -> bytes:
        import httpx  # here, not at module level: httpx imports its CLI (rich, click) when they are installed

        headers = {"Content-Type": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        timeout = httpx.Timeout(max(0.1, deadline - time.monotonic()))
        try:
            # trust_env=False: no proxy or .netrc credentials picked up from the environment
            with httpx.Client(follow_redirects=False, trust_env=False, timeout=timeout) as client:
                with client.stream("POST", self.url, content=body, headers=headers) as response:
                    _check_status(response, self.url)
                    return _read_capped(response, deadline, self.config.max_reply_bytes, self.url)
        except httpx.TimeoutException as exc:
            raise _Transient(f"no reply from {self.url} within {self.config.timeout_s:g} s") from exc
        except httpx.HTTPError as exc:
            raise _Transient(f"cannot reach {self.url}: {type(exc).__name__}: {exc}") from exc


def _check_status(response: httpx.Response, url: str) -> None:
    if response.is_redirect:
        raise ReasonerError(f"{url} redirects to {response.headers.get('location')!r}; not followed, so the key "
                            "is only ever sent to the configured endpoint: give the final URL with --llm-url")
    if response.status_code >= 500:
        error = _error_text(response)
        if "response_format" in error:  # llama-cpp-python's server answers a form it does not know with a 500
            raise _Refused(f"HTTP {response.status_code} from {url}: {error}")
        raise _Transient(f"HTTP {response.status_code} from {url}")
    if response.status_code in (400, 422):
        raise _Refused(f"HTTP {response.status_code} from {url}: {_error_text(response)}")
    if response.status_code >= 400:
        raise ReasonerError(f"HTTP {response.status_code} from {url}")


def _error_text(response: httpx.Response, most: int = 300) -> str:
    """The start of an error reply (servers say there what they refused); never more than `most` bytes read."""
    received = b""
    for chunk in response.iter_bytes():
        received += chunk
        if len(received) >= most:
            break
    return received[:most].decode("utf-8", "replace").strip()


def _response_format(form: str, name: str, schema: dict) -> dict:
    if form == "json_schema":
        return {"response_format": {"type": "json_schema",
                                    "json_schema": {"name": name, "schema": schema, "strict": True}}}
    if form == "json_object+schema":
        return {"response_format": {"type": "json_object", "schema": schema}}
    if form == "json_object":
        return {"response_format": {"type": "json_object"}}
    return {}


def _read_capped(response: httpx.Response, deadline: float, cap: int, url: str) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise ReasonerError(f"reply from {url} would be {int(declared):,} bytes; the limit is {cap:,}")
    received = bytearray()
    for chunk in response.iter_bytes():
        received += chunk
        if len(received) > cap:
            raise ReasonerError(f"reply from {url} exceeds {cap:,} bytes; refused")
        if time.monotonic() > deadline:
            raise _Transient(f"reply from {url} still arriving at the deadline")
    return bytes(received)


def _content(raw: bytes) -> str:
    try:
        content = json.loads(raw)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ReasonerError(f"endpoint reply is not a chat completion: {raw[:200]!r}") from exc
    if not isinstance(content, str):
        raise ReasonerError(f"endpoint reply has no text content: {raw[:200]!r}")
    return content
