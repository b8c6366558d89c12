"""What the user sees: the text of widgets, read the way the screen shows it."""
from __future__ import annotations

import asyncio

from textual.app import App
from textual.widgets import DataTable, Log, Static
from textual.worker import WorkerFailed

from rca_tui.widgets.agent_log import AgentLog


def text_of(app: App, selector: str) -> str:
    widget = app.screen.query_one(selector)
    if isinstance(widget, (Log, AgentLog)):
        return "\n".join(widget.lines)
    if isinstance(widget, DataTable):
        return "\n".join(" ".join(str(c) for c in widget.get_row_at(i)) for i in range(widget.row_count))
    rendered = widget.render() if not isinstance(widget, Static) else widget.visual
    return str(getattr(rendered, "plain", rendered))


async def settle(pilot) -> None:
    """Let workers finish (a failed one is the app's to report, as a notification) and their messages land."""
    try:
        await pilot.app.workers.wait_for_complete()
    except WorkerFailed:
        pass
    await pilot.pause()
    await pilot.pause()


async def wait_until(pilot, condition, timeout: float = 5.0) -> bool:
    """Settle until `condition()` holds or `timeout` seconds pass (work queued with call_after_refresh lands a frame
    or more later, and later still on a loaded machine); returns whether it held."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await settle(pilot)
        await pilot.pause(0.05)
    return True
