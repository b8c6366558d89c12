"""Turn a language model's reply into a step or a vote, or say exactly why it cannot be used."""
from __future__ import annotations

import json
import re
from typing import Any

from engine.reasoners.base import ReasonerError, StepDecision, StepRequest, VoteDecision

# what each role's final answer must contain for the agents after it to use it
ANSWER_KEYS = {
    "alert_receiver": ("priority",),
    "process_scheduler": ("subtasks",),
    "data_detective": ("focus", "summary"),
    "dependency_explorer": ("downstream",),
    "probability_oracle": ("candidates",),
    "fault_mapper": ("fault_web",),
    "solution_engineer": ("repair_steps",),
}
FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def parse_json_object(text: str) -> dict[str, Any]:
    fenced = FENCE.search(text)
    body = fenced.group(1) if fenced else text[text.find("{"): text.rfind("}") + 1]
    try:
        value = json.loads(body, strict=False)  # a raw newline inside a string (llama.cpp's JSON grammar allows it)
    except json.JSONDecodeError as exc:
        raise ReasonerError(f"reply is not a JSON object ({exc.msg}): {text[:200]!r}") from exc
    if not isinstance(value, dict):
        raise ReasonerError(f"reply is JSON but not an object: {text[:200]!r}")
    return value


def step_from_reply(text: str, request: StepRequest) -> StepDecision:
    data = parse_json_object(text)
    thought = data.get("thought")
    if not isinstance(thought, str) or not thought.strip():
        raise ReasonerError("reply has no 'thought' string")
    if "answer" in data:
        return StepDecision(thought, answer=_checked_answer(data["answer"], request))
    tool, args = data.get("tool"), data.get("args", {})
    names = {spec.name for spec in request.tools}
    if tool not in names:
        raise ReasonerError(f"reply calls unknown tool {tool!r}; tools are {sorted(names)}")
    if not isinstance(args, dict):
        raise ReasonerError(f"'args' of {tool} must be an object, got {type(args).__name__}")
    return StepDecision(thought, tool=tool, args=args)


def vote_from_reply(text: str) -> VoteDecision:
    data = parse_json_object(text)
    option, reason = data.get("option"), data.get("reason")
    if option not in ("for", "against", "abstain"):
        raise ReasonerError(f"vote option must be for, against or abstain, got {option!r}")
    if not isinstance(reason, str) or not reason.strip():
        raise ReasonerError("vote has no 'reason' string")
    return VoteDecision(option, reason)


def _checked_answer(answer: Any, request: StepRequest) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise ReasonerError(f"'answer' must be an object, got {type(answer).__name__}")
    missing = [key for key in ANSWER_KEYS[request.role] if key not in answer]
    if missing:
        raise ReasonerError(f"{request.role} answer lacks {missing}")
    known = set(request.entities)
    if request.role == "probability_oracle":
        _check_candidates(answer["candidates"], known)
    for field, named in _named_entities(answer).items():
        unknown = sorted(str(entity) for entity in named if entity not in known)
        if unknown:
            raise ReasonerError(f"{request.role} answer names {unknown[:3]} in '{field}', not entities of this "
                                "incident")
    return answer


def _named_entities(answer: dict[str, Any]) -> dict[str, list]:
    """The entities an answer names in its structured fields (what later agents and the chain rely on)."""
    named: dict[str, list] = {}
    if isinstance(answer.get("focus"), list):
        named["focus"] = answer["focus"]
    for field in ("downstream", "fault_web"):
        graph = answer.get(field)
        if isinstance(graph, dict):
            named[field] = [*graph, *(e for targets in graph.values() if isinstance(targets, list) for e in targets)]
    steps = answer.get("repair_steps")
    if isinstance(steps, list):
        named["repair_steps"] = [step["entity"] for step in steps if isinstance(step, dict) and "entity" in step]
    return named


def _check_candidates(candidates: Any, known: set[str]) -> None:
    if not isinstance(candidates, list) or not candidates:
        raise ReasonerError("'candidates' must be a non-empty list")
    for candidate in candidates:
        if not isinstance(candidate, dict) or not isinstance(candidate.get("score"), (int, float)):
            raise ReasonerError(f"candidate {candidate!r} needs an 'entity' and a numeric 'score'")
        if candidate.get("entity") not in known:
            raise ReasonerError(f"candidate {candidate.get('entity')!r} is not an entity of this incident")
