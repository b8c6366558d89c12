"""A console that carries context: keys visible at 80×24, Esc leaves search, Enter opens the full event, `/`
filters, panes follow the selected run, Replay jumps to the consensus and opens its tx with the proof."""
from __future__ import annotations

from textual.widgets import DataTable, Input

from engine.clock import FixedClock
from engine.runs.scripted import run_scripted_incident
from engine.runs.session import Session
from rca_tui.app import RcaApp
from rca_tui.screens.event_detail import EventScreen
from rca_tui.screens.help import HelpScreen
from rca_tui.widgets.agent_log import AgentLog
from rca_tui.widgets.graph_canvas import GraphCanvas
from tests.tui.helpers import settle, text_of, wait_until


def _last_line(app) -> str:
    from textual.widgets import Footer

    footer = app.screen.query_one(Footer)
    return " ".join(f"{k.key_display} {k.description}" for k in footer.query("FooterKey"))


async def test_replay_keys_space_speed_and_consensus_are_in_the_footer_at_80x24(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        shown = _last_line(app)
        for entry in ("←→ Step", "[] Block", "space Play", "+- Speed", "c Consensus", "x Tx", "⏎ Event", "/ Filter"):
            assert entry in shown
        footer = app.screen.query_one("Footer")
        assert max(k.region.right for k in footer.query("FooterKey")) <= 80  # nothing cut at 80 columns
        assert "4 Replay" in text_of(app, "PaneBar") and "F1 help" in text_of(app, "PaneBar")


async def test_help_lists_only_our_keys(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5", "f1")
        assert isinstance(app.screen, HelpScreen)
        keys = text_of(app, "#help-keys")
        assert "Attribute" in keys and "Report" in keys and "^P Actions" in keys
        for foreign in ("Focus Next", "Copy selected text", "ctrl+q"):
            assert foreign not in keys


async def test_help_shows_the_whole_description_the_table_cuts_at_80_columns(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        rows = text_of(app, "#help-keys").splitlines()
        event_row = next(i for i, row in enumerate(rows) if " Event " in row)
        await pilot.press(*["down"] * event_row)
        await settle(pilot)
        assert "the tx it led to" in text_of(app, "#help-what")  # past column 80 in the table


async def test_escape_leaves_the_explorer_search_and_the_pane_keys_work_again(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2", "slash")
        assert isinstance(app.focused, Input)
        await pilot.press("escape")
        assert isinstance(app.focused, DataTable)
        await pilot.press("3")  # a pane key, not typed into the box
        assert type(app.screen).__name__ == "GraphScreen"


async def test_enter_on_the_log_opens_the_full_event_with_the_tx_it_led_to(app, story):
    _, run_id = story
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        app.screen.move_to(3)
        await pilot.press("enter")
        assert isinstance(app.screen, EventScreen)
        event = app.screen.timeline.events[2]
        body = text_of(app, "#event-body")
        assert f"event #{event.seq}" in body and run_id in body
        await pilot.press("right")
        assert f"event #{app.screen.timeline.events[3].seq}" in text_of(app, "#event-body")
        await pilot.press("escape")
        assert type(app.screen).__name__ == "ReplayScreen"


async def test_an_agent_answer_shows_the_tx_it_led_to_in_full(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        timeline = app.screen.timeline
        answer = next(p for p, e in enumerate(timeline.events)
                      if e.kind == "agent_action" and e.payload.get("action") == "answer")
        tx = next(e.payload["tx"] for e in timeline.events[answer:] if e.kind == "tx_submitted")
        app.screen.move_to(answer + 1)
        await pilot.press("enter")
        assert f"tx {tx}" in text_of(app, "#event-body")  # the whole hash, not cut


async def test_slash_filters_the_agent_log_by_text(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        app.screen.query_one(Input).value = "ts-travel"
        await pilot.press("enter")
        lines = text_of(app, "#agent-log").splitlines()
        assert lines and all("ts-travel" in line for line in lines)
        assert "/ts-travel" in app.screen.query_one("#agent-log").border_title


async def test_replay_jumps_to_the_consensus_and_opens_its_tx_with_the_proof(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("c")
        timeline = app.screen.timeline
        assert timeline.events[app.screen.cursor - 1].kind == "consensus"
        await pilot.press("x")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ExplorerScreen" and "✓" in text_of(app, "#detail"))
        assert type(app.screen).__name__ == "ExplorerScreen"
        detail = text_of(app, "#detail")
        assert "✓" in detail and "gov.vote" in detail  # the vote tx that closed it, and its verified proof


async def test_runs_shows_truth_and_filters_and_the_graph_follows_the_selected_run(story):
    db, _ = story
    session = Session(db, FixedClock())
    run_scripted_incident(session)
    session.close()
    app = RcaApp(db, clock=FixedClock(), offer_demo=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        rows = text_of(app, "#runs").splitlines()
        assert len(rows) == 2
        second_row = rows[1].split()[0]
        await pilot.press("down")  # the second run in the list, not the latest one
        await pilot.press("3")
        await settle(pilot)
        assert f"run {second_row}" in app.screen.query_one(GraphCanvas).border_title
        await pilot.press("5", "slash")
        app.screen.query_one(Input).value = "scripted-food"
        await pilot.press("enter")
        assert text_of(app, "#runs").splitlines() == [r for r in rows if "scripted-food" in r]


async def test_runs_row_of_an_attributed_wrong_run_shows_the_truth_and_the_blamed_agent(attributed):
    app, run_id, payload = attributed
    truth = app.session.run(run_id)["result"]["label"]["root_cause"]
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        row = text_of(app, "#runs").splitlines()[0]
        assert row.startswith(run_id) and f"✗ {truth}" in row
        assert f" {payload['who'].split('_')[0]} " in row
        assert "1700000" not in row  # a time, not epoch milliseconds


async def test_enter_opens_the_lowest_line_in_view_when_the_reader_scrolled_up(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        log = app.screen.query_one(AgentLog)
        log.scroll_to(y=0, animate=False, immediate=True)  # the first rows of the 110-event story run
        await pilot.pause()
        lowest = text_of(app, "#agent-log").splitlines()[log.scrollable_content_region.height - 1]
        await pilot.press("enter")
        assert isinstance(app.screen, EventScreen)
        assert f"event #{lowest.split()[0].lstrip('#')}" in text_of(app, "#event-body")


async def test_runs_opens_on_the_run_the_panes_follow_not_the_one_it_showed_last(story):
    """Runs seen first (cursor on the top run), then the other run replayed: back in Runs, `a` / `p` act on the
    replayed run, not on whatever row the list had before."""
    db, story_run = story
    session = Session(db, FixedClock())
    other_run = run_scripted_incident(session)["run_id"]
    session.close()
    app = RcaApp(db, clock=FixedClock(), offer_demo=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        first = app.screen.selected_run()
        replayed = other_run if first == story_run else story_run
        app.open_replay(replayed)
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        assert app.screen.selected_run() == replayed
