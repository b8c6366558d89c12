"""The chat prompts every language-model reasoner sends (the OpenAI-compatible endpoint and the local model):
one wording, so both backends are asked the same thing."""
from __future__ import annotations

import json

from engine.reasoners.base import StepRequest, VoteRequest
from engine.reasoners.replies import ANSWER_KEYS


def step_prompt(request: StepRequest) -> list[dict]:
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


def vote_prompt(request: VoteRequest) -> list[dict]:
    evidence = "\n".join(f"{obs.tool}({json.dumps(obs.args)}) -> {json.dumps(obs.result, default=str)[:2000]}"
                         for _, obs in request.evidence)
    system = (f"You are the {request.role.replace('_', ' ')}. Vote on the proposed root cause using only your "
              f"own evidence. Reply with ONE JSON object {{\"option\": \"for\"|\"against\"|\"abstain\", "
              f"\"reason\": str}}.")
    user = f"Proposal: {json.dumps(request.proposal)}\nYour evidence:\n{evidence or '(none)'}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]
