"""JSON Schemas of the replies every language-model reasoner must give: a ReAct step (a tool call or the role's
final answer) and a vote. The checks in `replies` stay the judge; these let a decoder or a server keep a model
inside them from the start."""
from __future__ import annotations

from typing import Any

from engine.reasoners.base import StepRequest, ToolSpec
from engine.reasoners.replies import ANSWER_KEYS

SCORES = [0.9, 0.7, 0.5, 0.3, 0.1]
COUNTS = [3, 5]
TEXT = {"type": "string"}
ENTITY_ARGS = ("entity", "root")
MAX_LISTED = 3


def step_schema(request: StepRequest, tool_steps: int | None = None) -> dict[str, Any]:
    """A tool call or the final answer; only the answer once `tool_steps` (default: all but one) are used."""
    entities = {"enum": list(request.entities)}
    answer = _object(**{key: _answer_value(key, entities) for key in ANSWER_KEYS[request.role]})
    final = _object(thought=TEXT, answer=answer)
    if request.step >= min(request.max_steps - 1, tool_steps if tool_steps is not None else request.max_steps):
        return final
    return {"anyOf": [_object(thought=TEXT, tool={"enum": [tool.name]}, args=_args(tool, entities))
                      for tool in request.tools] + [final]}


def vote_schema() -> dict[str, Any]:
    return _object(option={"enum": ["for", "against", "abstain"]}, reason=TEXT)


def portable(schema: Any) -> Any:
    """The same replies in the JSON Schema subset grammar-constrained servers enforce: llama.cpp (and other
    schema-to-grammar converters) ignore `propertyNames`, so an object keyed by one entity becomes an `anyOf` of
    one-key objects, one per entity, and the model cannot write a key that is not an entity."""
    if isinstance(schema, list):
        return [portable(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "propertyNames" in schema and schema.get("maxProperties") == 1:
        value = portable(schema["additionalProperties"])
        return {"anyOf": [_object(**{key: value}) for key in schema["propertyNames"]["enum"]]}
    return {key: portable(value) for key, value in schema.items()}


def _object(**properties: dict) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def _list(items: dict, most: int = MAX_LISTED) -> dict[str, Any]:
    return {"type": "array", "items": items, "minItems": 1, "maxItems": most}


def _by_entity(entities: dict, value: dict) -> dict[str, Any]:
    return {"type": "object", "propertyNames": entities, "additionalProperties": value, "maxProperties": 1}


def _args(tool: ToolSpec, entities: dict) -> dict[str, Any]:
    return _object(**{name: _arg_value(name, description, entities) for name, description in tool.args.items()})


def _arg_value(name: str, description: str, entities: dict) -> dict[str, Any]:
    if name in ENTITY_ARGS:
        return entities
    if "|" in description:  # "upstream|downstream"
        return {"enum": description.split("|")}
    if name in ("k", "top"):
        return {"enum": COUNTS}
    return TEXT


def _answer_value(key: str, entities: dict) -> dict[str, Any]:
    values = {
        "priority": {"enum": ["P1", "P2", "P3"]},
        "subtasks": _list(TEXT),
        "focus": _list(entities),
        "summary": TEXT,
        "downstream": _by_entity(entities, _list(entities)),
        "candidates": _list(_object(entity=entities, score={"enum": SCORES}, reason=TEXT)),
        "fault_web": _by_entity(entities, _list(entities, 4)),
        "repair_steps": {"type": "array", "minItems": 1, "maxItems": MAX_LISTED, "items": _object(
            step_id={"enum": [1, 2, 3]}, action=TEXT, description=TEXT)},
    }
    return values.get(key, TEXT)
