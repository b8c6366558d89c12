"""An HF causal LM run in-process (transformers): the bundled SmolLM2 by default, any model folder or GGUF file.

Replies are decoded inside the reply schemas (`schemas`, `guided`), so even a small model answers in JSON with
known tools, entities and answer keys; they then go through the same checks as the OpenAI-compatible reasoner,
and a reply that fails them raises ReasonerError, for the workflow to record and fall back on.
"""
from __future__ import annotations

from engine.reasoners.base import ReasonerError, StepDecision, StepRequest, VoteDecision, VoteRequest
from engine.reasoners.guided import GuidedDecoder
from engine.reasoners.prompts import step_prompt, vote_prompt
from engine.reasoners.replies import step_from_reply, vote_from_reply
from engine.reasoners.schemas import step_schema, vote_schema

HEAD_CHARS = 1500  # task, alert and the first answers of the other agents
TAIL_CHARS = 2500  # the latest observations: a 135M model on a CPU reads ~1.5k tokens in a few seconds
# a small model seldom decides by itself that it has seen enough: after this many tool calls it must answer
TOOL_STEPS = 3


class LocalReasoner:
    name = "local"

    def __init__(self, model, tokenizer, max_string_tokens: int = 32, tool_steps: int = TOOL_STEPS):
        self.tokenizer, self.tool_steps = tokenizer, tool_steps
        self.decoder = GuidedDecoder(model, tokenizer, max_string_tokens)

    def next_step(self, request: StepRequest) -> StepDecision:
        return step_from_reply(self._complete(step_prompt(request), step_schema(request, self.tool_steps)),
                               request)

    def vote(self, request: VoteRequest) -> VoteDecision:
        return vote_from_reply(self._complete(vote_prompt(request), vote_schema()))

    def _complete(self, messages: list[dict], schema: dict) -> str:
        try:
            return self.decoder.complete(self._prompt(messages), schema)
        except (RuntimeError, ValueError, IndexError) as exc:  # torch errors arrive as RuntimeError
            raise ReasonerError(f"local model failed: {type(exc).__name__}: {exc}") from exc

    def _prompt(self, messages: list[dict]) -> str:
        clipped = [{**m, "content": _clip(m["content"])} for m in messages]
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(clipped, tokenize=False, add_generation_prompt=True)
        return "\n\n".join(f"{m['role']}: {m['content']}" for m in clipped) + "\n\nassistant: "


def _clip(text: str) -> str:
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return f"{text[:HEAD_CHARS]}\n…\n{text[-TAIL_CHARS:]}"
