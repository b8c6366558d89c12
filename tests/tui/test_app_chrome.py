"""F1 help, the command palette, themes and NO_COLOR, and the console's CLI commands."""
from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from rca_tui.app import THEME_ORDER, RcaApp
from rca_tui.cli import console
from tests.tui.helpers import settle


async def test_f1_lists_every_key_of_the_screen_underneath(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2", "f1")
        rows = app.screen.query_one("#help-keys")
        keys = {str(rows.get_row_at(i)[0]) for i in range(rows.row_count)}
        assert {"F1", "1", "2", "3", "4", "5", "d", "t", "q", "/", "p", "v", "r", "esc"} <= keys  # as the footer writes them
        await pilot.press("escape")
        assert type(app.screen).__name__ == "ExplorerScreen"


async def test_palette_runs_any_action_by_name(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*"Explorer")
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "ExplorerScreen"


async def test_t_cycles_the_four_project_themes(app):
    async with app.run_test(size=(80, 24)) as pilot:
        seen = [app.theme]
        for _ in THEME_ORDER:
            await pilot.press("t")
            seen.append(app.theme)
        assert seen == [*THEME_ORDER, THEME_ORDER[0]]


async def test_no_color_starts_in_monochrome(story, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = RcaApp(story[0], offer_demo=False)
    async with app.run_test(size=(80, 24)):
        assert app.theme == "rca-monochrome" and app.no_color


async def test_an_empty_database_offers_the_demo(empty_app):
    empty_app.offer_demo = True
    async with empty_app.run_test(size=(80, 24)) as pilot:
        assert type(empty_app.screen).__name__ == "ConfirmScreen"
        await pilot.press("n")
        assert type(empty_app.screen).__name__ == "ConsoleScreen"


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(console.replay)
    app.command()(console.serve)
    return app


def test_replay_headless_json_prints_the_state_at_a_step(story):
    db, run_id = story
    result = CliRunner().invoke(cli(), ["replay", run_id, "--step", "34", "--headless", "--json", "--db", str(db)])
    assert result.exit_code == 0, result.output
    state = json.loads(result.stdout)
    assert state["cursor"] == 34 and state["sop"]["state"] == "Data_Collected"
    assert state["log"][-1].startswith("#34 ")


def test_replay_of_an_unknown_run_exits_not_found(story):
    result = CliRunner().invoke(cli(), ["replay", "run-nope", "--headless", "--db", str(story[0])])
    assert result.exit_code == 3 and "no run 'run-nope'" in result.output
