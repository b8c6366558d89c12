"""Payload schemas: each tx type declares its fields; anything else is malformed."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from engine.chain.wellformed import MAX_INT

ADDRESS = re.compile(r"^[0-9a-f]{40}$")


class MalformedPayload(ValueError):
    def __init__(self, tx_type: str, field: str, expected: str):
        super().__init__(f"{tx_type}: payload field '{field}' must be {expected}")
        self.field = field


@dataclass(frozen=True)
class Field:
    kind: str  # str | text | address | int | positive | choice | object | list
    required: bool = True
    choices: tuple[str, ...] = ()
    max_length: int = 256

    def expected(self) -> str:
        return {
            "str": f"a non-empty string of at most {self.max_length} characters",
            "text": f"a string of at most {self.max_length} characters",
            "address": "a 40-hex-digit address",
            "int": f"an integer in 0..{MAX_INT}",
            "positive": f"an integer in 1..{MAX_INT}",
            "choice": f"one of {', '.join(self.choices)}",
            "object": "a JSON object",
            "list": "a JSON list",
        }[self.kind]

    def accepts(self, value: Any) -> bool:
        return _ACCEPTS[self.kind](self, value)


def _is_int(value: Any) -> bool:
    return type(value) is int and value <= MAX_INT


_ACCEPTS = {
    "str": lambda f, v: isinstance(v, str) and 0 < len(v) <= f.max_length,
    "text": lambda f, v: isinstance(v, str) and len(v) <= f.max_length,
    "address": lambda f, v: isinstance(v, str) and bool(ADDRESS.match(v)),
    "int": lambda f, v: _is_int(v) and v >= 0,
    "positive": lambda f, v: _is_int(v) and v > 0,
    "choice": lambda f, v: v in f.choices,
    "object": lambda f, v: isinstance(v, dict),
    "list": lambda f, v: isinstance(v, list),
}


def validate(tx_type: str, payload: Any, schema: dict[str, Field]) -> None:
    if not isinstance(payload, dict):
        raise MalformedPayload(tx_type, "<payload>", "a JSON object")
    unknown = sorted(set(payload) - set(schema))
    if unknown:
        raise MalformedPayload(tx_type, unknown[0], "absent (not a field of this transaction type)")
    for name, spec in schema.items():
        if name not in payload:
            if spec.required:
                raise MalformedPayload(tx_type, name, spec.expected() + " (missing)")
            continue
        if not spec.accepts(payload[name]):
            raise MalformedPayload(tx_type, name, spec.expected())
