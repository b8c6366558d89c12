"""Any OpenAI-compatible chat endpoint (base URL, model, key from flags or the environment).

Connection errors, timeouts and 5xx replies are retried with back-off; a reply that is malformed or off the
schema raises ReasonerError with the reason, so the workflow can record it and fall back or stop cleanly.
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from engine.config import settings
from engine.reasoners.base import ReasonerError, StepDecision, StepRequest, VoteDecision, VoteRequest
from engine.reasoners.replies import ANSWER_KEYS, step_from_reply, vote_from_reply


@dataclass(frozen=True)
class EndpointConfig:
    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 60.0
    retries: int = 2

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

    def next_step(self, request: StepRequest) -> StepDecision:
        return step_from_reply(self._chat(_step_prompt(request)), request)

    def vote(self, request: VoteRequest) -> VoteDecision:
        return vote_from_reply(self._chat(_vote_prompt(request)))

    def _chat(self, messages: list[dict]) -> str:
        body = json.dumps({"model": self.config.model, "messages": messages, "temperature": 0}).encode()
        headers = {"Content-Type": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        last_error = ""
        for attempt in range(self.config.retries + 1):
            request = urllib.request.Request(f"{self.config.base_url}/chat/completions", body, headers)
            try:
                with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                    return _content(response.read())
            except urllib.error.HTTPError as exc:
                last_error = f"HTTP {exc.code} from {self.config.base_url}"
                if exc.code < 500:
                    break
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                last_error = f"cannot reach {self.config.base_url}: {getattr(exc, 'reason', exc)}"
            if attempt < self.config.retries:
                time.sleep(0.5 * 2 ** attempt)
        raise ReasonerError(f"{last_error} (after {self.config.retries + 1} attempts)")


def _content(raw: bytes) -> str:
    try:
        return json.loads(raw)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ReasonerError(f"endpoint reply is not a chat completion: {raw[:200]!r}") from exc


def _step_prompt(request: StepRequest) -> list[dict]:
    tools = "\n".join(f"- {t.name}({', '.join(f'{a}: {d}' for a, d in t.args.items())}): {t.description}"
                      for t in request.tools)
    system = (f"You are the {request.role.replace('_', ' ')} of an SRE team; your duty: {request.duty}.\n"
              f"Tools:\n{tools}\nReply with ONE JSON object: either {{\"thought\": str, \"tool\": name, "
              f"\"args\": {{...}}}} to call a tool, or {{\"thought\": str, \"answer\": {{...}}}} when done. "
              f"Your answer must contain the keys {list(ANSWER_KEYS[request.role])}. Cite numbers from the "
              f"observations; name only entities from this list: {', '.join(request.entities)}. "
              f"You have {request.max_steps - request.step} steps left.")
    history = "\n".join(f"Thought: {thought}\nAction: {obs.tool}({json.dumps(obs.args)})\n"
                        f"Observation: {json.dumps(obs.result, default=str)[:3000]}"
                        for thought, obs in request.history)
    user = (f"Task: {request.task}\nAlert: {json.dumps(request.alert, default=str)}\n"
            f"Answers of the agents before you: {json.dumps(request.shared, default=str)[:6000]}\n{history}")
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _vote_prompt(request: VoteRequest) -> list[dict]:
    evidence = "\n".join(f"{obs.tool}({json.dumps(obs.args)}) -> {json.dumps(obs.result, default=str)[:2000]}"
                         for _, obs in request.evidence)
    system = (f"You are the {request.role.replace('_', ' ')}. Vote on the proposed root cause using only your "
              f"own evidence. Reply with ONE JSON object {{\"option\": \"for\"|\"against\"|\"abstain\", "
              f"\"reason\": str}}.")
    user = f"Proposal: {json.dumps(request.proposal)}\nYour evidence:\n{evidence or '(none)'}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]
