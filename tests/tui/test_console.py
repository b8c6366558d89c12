"""The live console: what the user sees of a run, the filters and the leaderboard sort, and a run started live."""
from __future__ import annotations

from rca_tui.app import RcaApp
from rca_tui.widgets.leaderboard import Leaderboard
from tests.tui.helpers import settle, text_of


async def test_console_shows_the_latest_run_in_every_pane(app, story):
    _, run_id = story
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert text_of(app, "#run-status") == f"run {run_id} · 96 events · block 16 · done"
        assert text_of(app, "#agent-log").splitlines()[-1].startswith("#96   system      finish")
        sop = text_of(app, "#sop")
        assert "└▶  Solution" in sop and "Proposed ↺ Collected" in sop  # current state and the rejected proposal
        assert "✗ #4 sop.solution" in sop  # the reverted tx with its reason
        assert text_of(app, "#votes").splitlines()[-1] == "passed 4 votes"
        assert "for     █" in text_of(app, "#votes")
        assert len(text_of(app, "#leaderboard").splitlines()) == 7


async def test_agent_and_kind_filters_narrow_the_log(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a")  # first agent: alert_receiver
        lines = text_of(app, "#agent-log").splitlines()
        assert lines and all(" alert " in line for line in lines)
        assert "alert_receiver" in app.screen.query_one("#agent-log").border_title
        await pilot.press("k")  # thoughts only
        lines = text_of(app, "#agent-log").splitlines()
        assert lines and all(" thought " in line for line in lines)
        assert app.screen.query_one("#agent-log").border_title.endswith("thought")


async def test_leaderboard_sorts_by_the_next_column_on_s(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one(Leaderboard).focus()
        assert text_of(app, "#leaderboard").splitlines()[-1].startswith("probability")  # lowest vote weight
        await pilot.press("s")  # by balance
        rows = text_of(app, "#leaderboard").splitlines()
        assert rows[0].startswith("process 9619") and rows[-1].startswith("alert 9021")
        assert "↓bal" in app.screen.query_one(Leaderboard).border_title


async def test_demo_runs_live_and_every_pane_follows(empty_app: RcaApp):
    async with empty_app.run_test(size=(80, 24)) as pilot:
        assert "No run yet" in text_of(empty_app, "#run-status")
        await pilot.press("d")
        await settle(pilot)
        assert text_of(empty_app, "#run-status").endswith("· done")
        assert "finish" in text_of(empty_app, "#agent-log").splitlines()[-1]
        assert "▶" in text_of(empty_app, "#sop")
        assert len(text_of(empty_app, "#leaderboard").splitlines()) == 7
        assert any("finished: root cause" in n.message for n in empty_app._notifications)


async def test_a_failing_run_becomes_a_notification_not_a_crash(empty_app: RcaApp):
    def broken(_session):
        raise RuntimeError("the reasoner endpoint refused the connection")

    async with empty_app.run_test(size=(80, 24)) as pilot:
        empty_app.start_run(broken, "a broken run")
        await settle(pilot)
        messages = [n.message for n in empty_app._notifications]
        assert any("refused the connection" in m for m in messages)
        assert empty_app.is_running and not empty_app.running


async def test_a_key_is_answered_on_screen_while_a_flood_of_events_is_still_being_taken_in(app):
    """Streamed events are taken a frame's budget at a time and the app idles between frames: a key pressed in a
    flood is handled and painted before the flood is in, not after it."""
    import asyncio

    from textual.events import Key

    from tests.bench.console_bench import synthetic_events

    events = synthetic_events(60_000)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        log = app.screen.query_one("#agent-log")
        painted_with_filter: list[int] = []  # events still waiting at each frame painted after the key
        display = app._display

        def paint(screen, renderable):
            if renderable is not None and log.border_title.endswith("thought"):
                painted_with_filter.append(len(app._backlog) + len(app._pending))
            display(screen, renderable)

        app._display = paint
        for event in events:
            app._queue_event(event)
        while len(app._backlog) + len(app._pending) == len(events):  # until the flood has begun (a fixed sleep
            await asyncio.sleep(0.005)                                 # outlasted the whole flood on a loaded machine)
        app.post_message(Key("k", "k"))  # the log's kind filter: the whole log redraws
        while not painted_with_filter:
            await asyncio.sleep(0.01)
        assert painted_with_filter[0] > 0  # on screen mid-flood
        while app._backlog or app._pending:
            await pilot.pause(0.1)
        await pilot.pause()
        assert text_of(app, "#run-status").startswith("run run-bench · 60000 events")
        assert all(" thought " in line for line in text_of(app, "#agent-log").splitlines()[-20:])
