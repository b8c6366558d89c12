"""Schema-guided JSON decoding with an HF causal LM: the reply is in schema by construction.

The decoder writes the JSON skeleton itself (braces, keys, commas) and lets the model decide only what the
schema leaves open: which value of an enum (the option the model finds likeliest), whether an array goes on,
which of several object shapes (`anyOf`) to take, and the text of strings (greedy, up to a closing quote).
The schemas are a subset of JSON Schema, so the same ones can be sent to a server as `response_format`:
`enum`, `type: string`, `type: object` (`properties`, all written in order), `type: array` (`items`,
`minItems` 1, `maxItems`), `anyOf` of objects, and an object with `propertyNames: {enum}` +
`additionalProperties` + `maxProperties` (one generated key).
"""
from __future__ import annotations

import json
from typing import Any

import torch

from engine.transformers_compat import cache_argument, returned_cache

STRING_STOPS = ('"', "\n", "\\")
FIRST_WORD_CANDIDATES = 200


class DecodingState:
    """A prompt and what has been written after it, with the model's KV cache and next-token log-probs."""

    def __init__(self, model, tokenizer, prompt: str):
        self.model, self.tokenizer = model, tokenizer
        self.cache_keyword = cache_argument(model)  # read once: feed_ids runs per generated token
        self.cache = None
        self.length = 0
        self.logprobs = None
        self.feed_ids(tokenizer(prompt, add_special_tokens=False)["input_ids"])

    def feed(self, text: str) -> None:
        if text:
            self.feed_ids(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def feed_ids(self, ids: list[int]) -> list[torch.Tensor]:
        """Run `ids` through the model; the log-probs before each id (for scoring) are returned."""
        before = [self.logprobs]
        with torch.no_grad():
            out = self.model(input_ids=torch.tensor([ids], device=self.model.device), use_cache=True,
                             **{self.cache_keyword: self.cache})
        steps = torch.log_softmax(out.logits[0].float(), dim=-1)
        self.cache, self.length, self.logprobs = returned_cache(out), self.length + len(ids), steps[-1]
        return before + list(steps[:-1])

    def score(self, text: str) -> float:
        """Mean log-prob of `text` as the continuation; the state is left as it was."""
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        length, logprobs = self.length, self.logprobs
        before = self.feed_ids(ids)
        total = sum(float(step[token]) for step, token in zip(before, ids))
        self.cache.crop(-len(ids))
        self.length, self.logprobs = length, logprobs
        return total / max(len(ids), 1)

    def choose(self, options: list[str]) -> int:
        scores = [self.score(option) for option in options]
        best = max(range(len(options)), key=lambda index: (scores[index], -index))
        self.feed(options[best])
        return best

    def string(self, max_tokens: int) -> str:
        """Greedy text up to a quote, newline or backslash (so the value needs no escaping), or `max_tokens`."""
        text = ""
        for _ in range(max_tokens):
            token = int(torch.argmax(self.logprobs)) if text.strip() else self._first_word()
            if token == self.tokenizer.eos_token_id:
                break
            piece = self.tokenizer.decode([token])
            cut = min((piece.index(stop) for stop in STRING_STOPS if stop in piece), default=None)
            if cut is not None:
                self.feed(piece[:cut])
                return text + piece[:cut]
            self.feed_ids([token])
            text += piece
        return text


    def _first_word(self) -> int:
        """The likeliest token that starts the text with something visible (checks want non-empty strings)."""
        for token in torch.topk(self.logprobs, min(FIRST_WORD_CANDIDATES, len(self.logprobs))).indices.tolist():
            piece = self.tokenizer.decode([token])
            if token != self.tokenizer.eos_token_id and piece.strip() and not any(s in piece for s in STRING_STOPS):
                return token
        raise ValueError("the model offers no visible token to start a string with")


class GuidedDecoder:
    def __init__(self, model, tokenizer, max_string_tokens: int = 32):
        self.model, self.tokenizer, self.max_string_tokens = model, tokenizer, max_string_tokens

    def complete(self, prompt: str, schema: dict[str, Any]) -> str:
        state = DecodingState(self.model, self.tokenizer, prompt)
        return self._value(state, schema)

    def _value(self, state: DecodingState, schema: dict[str, Any]) -> str:
        if "enum" in schema:
            options = [json.dumps(value) for value in schema["enum"]]
            return options[state.choose(options)]
        if "anyOf" in schema:
            return self._any_object(state, schema["anyOf"])
        kind = schema.get("type")
        if kind == "string":
            return self._string(state)
        if kind == "array":
            return self._array(state, schema)
        if kind == "object" and "propertyNames" in schema:
            return self._keyed_object(state, schema)
        if kind == "object":
            return self._object(state, list(schema["properties"].items()))
        raise ValueError(f"guided decoding does not support the schema {schema!r}")

    def _string(self, state: DecodingState) -> str:
        state.feed('"')
        text = state.string(self.max_string_tokens)
        state.feed('"')
        return json.dumps(text.strip())

    def _object(self, state: DecodingState, properties: list[tuple[str, dict]]) -> str:
        state.feed("{")
        return "{" + self._object_body(state, properties) + self._close(state)

    def _any_object(self, state: DecodingState, shapes: list[dict]) -> str:
        """Properties the shapes share in front are written once; the model then picks the shape by its next
        key (and that key's value, when the shape fixes it to one)."""
        lists = [list(shape["properties"].items()) for shape in shapes]
        shared = 0
        while all(len(props) > shared and props[shared] == lists[0][shared] for props in lists):
            shared += 1
        state.feed("{")
        written = "{" + self._object_body(state, lists[0][:shared])
        leads = [_lead(props[shared], comma=shared > 0) for props in lists]
        chosen = lists[state.choose(leads)]
        key, schema = chosen[shared]
        written += leads[lists.index(chosen)] + ("" if _is_const(schema) else self._value(state, schema))
        return written + self._object_body(state, chosen[shared + 1:], leading=True) + self._close(state)

    def _object_body(self, state: DecodingState, properties: list[tuple[str, dict]], leading: bool = False) -> str:
        written = ""
        for index, (key, schema) in enumerate(properties):
            prefix = f'{", " if index or leading else ""}"{key}": '
            state.feed(prefix)
            written += prefix + self._value(state, schema)
        return written

    @staticmethod
    def _close(state: DecodingState) -> str:
        state.feed("}")
        return "}"

    def _keyed_object(self, state: DecodingState, schema: dict) -> str:
        state.feed("{")
        key = self._value(state, schema["propertyNames"])
        state.feed(": ")
        return "{" + key + ": " + self._value(state, schema["additionalProperties"]) + self._close(state)

    def _array(self, state: DecodingState, schema: dict) -> str:
        state.feed("[")
        items = [self._value(state, schema["items"])]
        while len(items) < schema.get("maxItems", 3) and state.choose(["]", ", "]) == 1:
            items.append(self._value(state, schema["items"]))
        if len(items) == schema.get("maxItems", 3):
            state.feed("]")
        return "[" + ", ".join(items) + "]"


def _is_const(schema: dict) -> bool:
    return len(schema.get("enum", ())) == 1


def _lead(property_: tuple[str, dict], comma: bool) -> str:
    key, schema = property_
    return f'{", " if comma else ""}"{key}": ' + (json.dumps(schema["enum"][0]) if _is_const(schema) else "")
