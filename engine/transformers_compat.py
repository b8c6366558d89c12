"""The two names transformers has given a forward pass's key / value cache: ``cache`` (transformers 5.2x) and
``past_key_values`` (before). pyproject allows transformers >= 4.45, and a GPU machine's image may hold an older
one than this project's environment (5.17 on the lent H200s), so code that feeds a cache goes through here."""
from __future__ import annotations

import inspect
from typing import Any


def cache_argument(model: Any) -> str:
    """The forward's keyword for past keys / values."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def returned_cache(output: Any) -> Any:
    """The updated cache a forward pass returned, under either name."""
    return output.cache if hasattr(output, "cache") else output.past_key_values
