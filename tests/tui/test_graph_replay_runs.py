"""Graph, replay and runs panes: what the user sees after each key."""
from __future__ import annotations

from textual.widgets import Input

from rca_tui.formatting import replay_state
from engine.runs.session import Session
from rca_tui.widgets.graph_canvas import GraphCanvas
from tests.tui.helpers import settle, text_of


async def test_graph_draws_the_fault_web_with_root_and_path(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        canvas = app.screen.query_one(GraphCanvas)
        drawing = text_of(app, "#graph")
        for node in ("food", "travel", "preserve"):  # beside the node pane, what all names share is dropped
            assert f"{node} 0." in drawing
        assert "▶" in drawing and "root" in drawing  # edges with arrowheads, and the legend
        assert canvas.graph.nodes["ts-food-service"]["root"]
        assert canvas.graph.edges["ts-food-service", "ts-travel-service"]["on_path"]
        assert text_of(app, "#node-detail").startswith("ts-food-service\nscore     0.910\nagreed root cause")
        await pilot.press("j")
        assert text_of(app, "#node-detail").startswith("ts-travel-service\nscore     0.550")
        await pilot.press("k")
        assert text_of(app, "#node-detail").startswith("ts-food-service")


async def open_replay(pilot):
    await pilot.press("4")
    await settle(pilot)


async def test_replay_steps_seeks_and_matches_the_headless_state(app, story):
    db, run_id = story
    async with app.run_test(size=(80, 24)) as pilot:
        await open_replay(pilot)
        assert text_of(app, "#replay-status") == f"{run_id} · event 0/96 · block - · ⏸ 1×"
        assert text_of(app, "#sop") == "no incident on chain yet"
        await pilot.press("right", "right")
        assert text_of(app, "#replay-status").startswith(f"{run_id} · event 2/96")
        assert len(text_of(app, "#agent-log").splitlines()) == 2
        await pilot.press("left")
        assert len(text_of(app, "#agent-log").splitlines()) == 1
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert " · block 2 · " in text_of(app, "#replay-status")
        await pilot.press("g")
        app.screen.query_one(Input).value = "#9"
        await pilot.press("enter")
        expected = replay_state(Session(db), run_id, app.screen.cursor)
        assert expected["block_height"] == 9 and expected["sop"]["state"] == "Data_Collected"
        assert "├▶  Data_Collected" in text_of(app, "#sop")
        assert text_of(app, "#votes").splitlines()[-1] == f"{expected['votes']['outcome']} 4 votes"
        assert text_of(app, "#agent-log").splitlines()[-1] == expected["log"][-1]
        await pilot.press("end")
        assert text_of(app, "#replay-status").startswith(f"{run_id} · event 96/96 · block 16")


async def test_replay_play_pause_and_speed(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await open_replay(pilot)
        await pilot.press("plus", "plus")
        assert text_of(app, "#replay-status").endswith("⏸ 4×")
        await pilot.press("space")
        assert text_of(app, "#replay-status").endswith("▶ 4×")
        await pilot.press("space")
        assert text_of(app, "#replay-status").endswith("⏸ 4×")
        await pilot.press("minus")
        assert text_of(app, "#replay-status").endswith("⏸ 2×")


async def test_graph_follows_the_replay_cursor(app, story):
    _, run_id = story
    async with app.run_test(size=(80, 24)) as pilot:
        await open_replay(pilot)
        await pilot.press("3")
        assert "no graph yet" in text_of(app, "#graph")  # at event 0 nobody has answered
        assert f"replay {run_id} @ 0" in app.screen.query_one(GraphCanvas).border_title


async def test_runs_list_opens_a_run_in_replay(app, story):
    _, run_id = story
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        assert text_of(app, "#runs").startswith(f"{run_id} ts-food-service - - ")
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "ReplayScreen"
        assert text_of(app, "#replay-status").startswith(f"{run_id} · event 0/96")


async def test_runs_case_prompt_reports_a_bad_folder(app, tmp_path):
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5", "c")
        app.screen.query_one(Input).value = str(tmp_path / "nowhere")
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "RunsScreen"
        assert any("nowhere" in n.message for n in app._notifications)


async def test_runs_own_telemetry_form_runs_the_agents_on_otlp_traces(app, tmp_path):
    from tests.unit.telemetry.test_own_inputs import T0, otlp_line

    traces = tmp_path / "traces.jsonl"
    calls = [otlp_line("web", f"{2 * i:016x}", "", T0 + i, 5.0) + "\n" + otlp_line(
        "db", f"{2 * i + 1:016x}", f"{2 * i:016x}", T0 + i, 4.0 if i < 20 else 400.0) for i in range(40)]
    traces.write_text("\n".join(calls) + "\n")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5", "o")
        app.screen.query_one("#own-otel", Input).value = str(traces)
        app.screen.query_one("#own-alert_time", Input).value = str(T0 + 20)
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await settle(pilot)
        assert any(n.message.endswith("finished: root cause db") for n in app._notifications)
