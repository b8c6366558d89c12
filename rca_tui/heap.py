"""The console holds whole runs in memory; keeping Python's cyclic collector off them keeps keys responsive."""
from __future__ import annotations

import gc


def freeze_long_lived() -> None:
    """Put every live object out of the cyclic collector's sight (`gc.freeze`). A run's events live as long as the
    console shows them, and a full collection over a few hundred thousand of them stalls keys for 100-300 ms; frozen,
    they are still freed by reference counting when their timeline goes. The young generations are collected first,
    so little garbage is frozen with them."""
    gc.collect(1)
    gc.freeze()
