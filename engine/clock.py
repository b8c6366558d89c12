"""Where timestamps come from. Tests and replays fix the clock so a run is reproducible."""
from __future__ import annotations

import time


class SystemClock:
    def now_ms(self) -> int:
        return int(time.time() * 1000)


class FixedClock:
    """Starts at `start_ms` and advances `step_ms` on every reading."""

    def __init__(self, start_ms: int = 1_700_000_000_000, step_ms: int = 1):
        self._next = start_ms
        self._step = step_ms

    def now_ms(self) -> int:
        value = self._next
        self._next += self._step
        return value
