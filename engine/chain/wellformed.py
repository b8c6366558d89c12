"""Exact field types and bounds of a transaction, checked at admission and again by verify.

SQLite stores what it is given: a float, a bool or an over-long integer would be mined, then read back as
something else, and the stored chain would never verify again. Hex is canonical lower case so one signature
has one transaction hash.
"""
from __future__ import annotations

import re
from typing import Any

from engine.chain.types import Transaction

MAX_INT = 2**63 - 1  # SQLite INTEGER
ADDRESS = re.compile(r"[0-9a-f]{40}")
PUBLIC_KEY = re.compile(r"0[23][0-9a-f]{64}")
SIGNATURE = re.compile(r"[0-9a-f]{128}")
INTEGER_FIELDS = ("nonce", "gas_price", "gas_limit", "timestamp")


def is_exact_int(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_INT


def field_problem(tx: Transaction) -> str | None:
    """What is wrong with the transaction's own fields (not its payload), or None."""
    for name in INTEGER_FIELDS:
        value = getattr(tx, name)
        if not is_exact_int(value):
            return f"{name} is {value!r} ({type(value).__name__}); expected an integer in 0..{MAX_INT}"
    if tx.gas_limit * tx.gas_price > MAX_INT:
        return f"gas_limit × gas_price = {tx.gas_limit * tx.gas_price} exceeds {MAX_INT}"
    checks = (("chain_id", tx.chain_id, None, "a string"), ("tx_type", tx.tx_type, None, "a string"),
              ("sender", tx.sender, ADDRESS, "40 lower-case hex digits"),
              ("public_key", tx.public_key, PUBLIC_KEY, "a compressed key in 66 lower-case hex digits"),
              ("signature", tx.signature, SIGNATURE, "128 lower-case hex digits"))
    for name, value, pattern, expected in checks:
        if type(value) is not str or (pattern is not None and not pattern.fullmatch(value)):
            return f"{name} is {value!r}; expected {expected}"
    if tx.to is not None and (type(tx.to) is not str or not ADDRESS.fullmatch(tx.to)):
        return f"to is {tx.to!r}; expected none or 40 lower-case hex digits"
    if type(tx.payload) is not dict:
        return f"payload is {type(tx.payload).__name__}; expected a JSON object"
    return None
