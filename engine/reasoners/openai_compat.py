"""Any OpenAI-compatible chat endpoint (base URL, model, key from flags or the environment), over httpx.

One deadline bounds each call, retries included, even against a server that trickles its reply; a reply larger
than `max_reply_bytes` is refused unread; redirects are not followed, so the key goes only to the configured
URL; connection errors, timeouts and 5xx replies are retried with back-off. Every failure, and a reply that is
malformed or off the schema, raises ReasonerError with the reason, so the workflow can record it and fall back or
stop cleanly.
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

if TYPE_CHECKING:
    import httpx

MAX_REPLY_BYTES = 1_000_000  # a chat completion for one agent step is a few kB


class _Transient(ReasonerError):
    """Worth another attempt: unreachable, timed out, a 5xx."""


@dataclass(frozen=True)
class EndpointConfig:
    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 60.0
    retries: int = 2
    max_reply_bytes: int = MAX_REPLY_BYTES

    @classmethod
    def from_env(cls, base_url: str | None = None, model: str | None = None, api_key: str | None = None,
                 timeout_s: float = 60.0, retries: int = 2) -> EndpointConfig:
        env = settings()
        url = base_url or env.llm_url
        if not url:
            raise ReasonerError("no endpoint: pass --llm-url or set RCA_TUI_LLM_URL / OPENAI_BASE_URL")
        return cls(url.rstrip("/"), model or env.llm_model, api_key or env.llm_key, timeout_s, retries)


class OpenAICompatReasoner:
    name = "openai"

    def __init__(self, config: EndpointConfig):
        self.config = config
        self.url = f"{config.base_url}/chat/completions"

    def next_step(self, request: StepRequest) -> StepDecision:
        return step_from_reply(self._chat(step_prompt(request)), request)

    def vote(self, request: VoteRequest) -> VoteDecision:
        return vote_from_reply(self._chat(vote_prompt(request)))

    def _chat(self, messages: list[dict]) -> str:
        body = json.dumps({"model": self.config.model, "messages": messages, "temperature": 0}).encode()
        deadline = time.monotonic() + self.config.timeout_s
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
        raise _Transient(f"HTTP {response.status_code} from {url}")
    if response.status_code >= 400:
        raise ReasonerError(f"HTTP {response.status_code} from {url}")


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
