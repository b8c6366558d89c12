"""Typed messages between the engine's thread workers and the console's screens and widgets."""
from __future__ import annotations

from typing import Any

from textual.message import Message

from engine.events import RunEvent
from engine.runs.timeline import Timeline


class EventsPending(Message):
    """Engine events wait in the app's buffer; the handler drains them all, so a burst costs one message."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EventsPending)


class RunEnded(Message):
    """A run started from the console finished; `result` is the engine's result dict."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__()
        self.result = result


class TimelineLoaded(Message):
    """A past run was read and indexed for replay."""

    def __init__(self, timeline: Timeline) -> None:
        super().__init__()
        self.timeline = timeline


class AttributionRecorded(Message):
    """A run was attributed from the console: `payload` is its `attribution` event's, `events` every event the
    attribution appended (the slash tx and its block included)."""

    def __init__(self, run_id: str, payload: dict[str, Any], events: list[RunEvent]) -> None:
        super().__init__()
        self.run_id, self.payload, self.events = run_id, payload, events


class ChainVerified(Message):
    """`Session.verify()` finished; `report` is its `to_dict()`."""

    def __init__(self, report: dict[str, Any]) -> None:
        super().__init__()
        self.report = report


class DatabaseChanged(Message):
    """Another connection wrote to the database (a CLI in another terminal, a worker): `latest` is the newest
    run as stored then, read on a worker thread when the console had taken `taken` events of its own. The app takes
    it, then tells the current screen (no bubbling)."""

    bubble = False

    def __init__(self, latest: Timeline | None, taken: int) -> None:
        super().__init__()
        self.latest, self.taken = latest, taken
