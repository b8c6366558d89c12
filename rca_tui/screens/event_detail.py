"""Enter on the agent log: one event in full (thought, tool call, observation JSON, the tx it led to), with keys to
walk the run and to open the tx in the Explorer. Ids are shown whole; `y` copies the tx hash (or the run id)."""
from __future__ import annotations

import json

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from engine.runs.navigation import event_tx
from engine.runs.timeline import Timeline, event_agent
from rca_tui.formatting import KIND_LABELS


class EventScreen(ModalScreen):
    DEFAULT_CSS = """
    EventScreen { align: center middle; }
    EventScreen > VerticalScroll { width: 94%; height: 90%; border: thick $primary; background: $surface; }
    EventScreen #event-body { padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape,q", "dismiss", "Close", id="event.close"),
        Binding("left,h", "move(-1)", "Prev", id="event.prev", key_display="←"),
        Binding("right,l", "move(1)", "Next", id="event.next", key_display="→"),
        Binding("x", "explore", "Tx in Explorer", id="event.explore",
                tooltip="Open the tx this event is about (or led to) in the Explorer, with its Merkle proof"),
        Binding("y", "copy", "Copy id", id="event.copy", tooltip="Copy the tx hash (or the run id) to the clipboard"),
    ]

    def __init__(self, timeline: Timeline, position: int) -> None:
        super().__init__()
        self.timeline, self.position = timeline, position

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="event-body")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.show()

    @property
    def tx(self) -> str | None:
        return event_tx(self.timeline, self.position)

    def show(self) -> None:
        event = self.timeline.events[self.position]
        scroll = self.query_one(VerticalScroll)
        scroll.border_title = (f"Event #{event.seq} · {KIND_LABELS.get(event.kind, event.kind)} · "
                               f"{event_agent(event)} · {self.position + 1}/{len(self.timeline)}")
        self.query_one("#event-body", Static).update(event_markup(self.timeline, self.position, self.tx))
        scroll.scroll_home(animate=False)

    def action_move(self, delta: int) -> None:
        self.position = max(0, min(len(self.timeline) - 1, self.position + delta))
        self.show()

    def action_explore(self) -> None:
        tx = self.tx
        block = self.timeline.events[self.position].block_height
        if tx is None and block is None:
            self.notify("this event led to no transaction and sits in no block", severity="warning")
            return
        self.dismiss()
        self.app.explore(tx=tx, block=block)

    def action_copy(self) -> None:
        text = self.tx or self.timeline.run_id
        self.app.copy_to_clipboard(text)
        self.notify(f"copied {text}", timeout=3)


def event_markup(timeline: Timeline, position: int, tx: str | None) -> str:
    event = timeline.events[position]
    p = event.payload
    lines = [f"[b]run[/b] {timeline.run_id}   [b]event[/b] #{event.seq}   [b]kind[/b] {event.kind}   "
             f"[b]block[/b] {event.block_height if event.block_height is not None else '-'}"]
    if event.kind == "agent_thought":
        lines += ["", "[b]thought[/b]", escape(str(p.get("thought", "")))]
    elif event.kind == "agent_action":
        if p.get("action") == "answer":
            lines += ["", "[b]answer[/b]"]
        else:
            lines += ["", f"[b]tool call[/b] {escape(str(p.get('action')))} (step {p.get('step')})", "[b]args[/b]"]
        lines.append(escape(_pretty(p.get("answer") if p.get("action") == "answer" else p.get("args"))))
    elif event.kind == "observation":
        lines += ["", f"[b]observation from[/b] {escape(str(p.get('tool')))}", escape(_pretty(p.get("result")))]
    lines += ["", "[b]tx[/b] " + (f"{tx}  (x: open it in the Explorer with its proof · y: copy)" if tx
                                  else "none")]
    lines += ["", "[b]payload[/b]", escape(_pretty(p))]
    return "\n".join(lines)


def _pretty(value) -> str:
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)
