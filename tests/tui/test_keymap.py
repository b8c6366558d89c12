"""Remappable keys: a TOML keymap file by binding id moves keys in the panes, the footers, the PaneBar and F1 help;
a bad file is reported (file and id) and the default keys stay; `rca-tui keys` lists every id to write one."""
from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from engine.clock import FixedClock
from rca_tui.app import RcaApp
from rca_tui.keymap import binding_catalogue, read_keymap
from rca_tui.screens.explorer import ExplorerScreen
from rca_tui.screens.help import HelpScreen
from rca_tui.screens.runs import RunsScreen
from tests.tui.helpers import settle, text_of

KEYMAP = """\
"app.explorer" = "e"          # a quoted id
runs.attribute = ["ctrl+a"]   # a dotted id, a list of keys
"""


def _app(db: Path, keymap: Path) -> RcaApp:
    return RcaApp(db, clock=FixedClock(), offer_demo=False, keymap_path=keymap)


def _footer(app) -> str:
    return " ".join(f"{k.key_display} {k.description}" for k in app.screen.query("FooterKey"))


def _errors(app) -> list[str]:
    return [n.message for n in app._notifications if n.severity == "error"]


async def test_a_keymap_file_moves_keys_in_the_panes_footer_panebar_and_help(story, tmp_path):
    (keymap := tmp_path / "keymap.toml").write_text(KEYMAP)
    app = _app(story[0], keymap)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        assert not isinstance(app.screen, ExplorerScreen)  # 2 no longer opens the Explorer ...
        await pilot.press("e")
        assert isinstance(app.screen, ExplorerScreen)  # ... e does
        assert "e Explorer" in text_of(app, "PaneBar") and "2 Explorer" not in text_of(app, "PaneBar")
        await pilot.press("5")
        await settle(pilot)
        assert isinstance(app.screen, RunsScreen)
        assert "^A Attribute" in _footer(app) and "a Attribute" not in _footer(app).replace("^A", "")
        assert "^A attribute" in text_of(app, "#runs-hint")  # the pane's hint line follows the keymap too
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        rows = {row.split(" ", 1)[1].split(" ")[0]: row.split(" ", 1)[0]
                for row in text_of(app, "#help-keys").splitlines()}
        assert rows["Attribute"] == "^A" and rows["Explorer"] == "e"  # written as the footer writes it
        assert not _errors(app)


async def test_an_unknown_id_is_reported_with_the_file_and_the_defaults_stay(story, tmp_path):
    (keymap := tmp_path / "keymap.toml").write_text('"app.explorer" = "e"\n"run.attribute" = "ctrl+a"\n')
    app = _app(story[0], keymap)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        [error] = _errors(app)
        assert str(keymap) in error and "'run.attribute'" in error and "runs.attribute" in error  # the hint
        assert "default keys stay" in error
        await pilot.press("e")
        assert not isinstance(app.screen, ExplorerScreen)  # the valid line is not applied either
        await pilot.press("2")
        assert isinstance(app.screen, ExplorerScreen)
        assert "2 Explorer" in text_of(app, "PaneBar")


async def test_malformed_toml_is_reported_and_the_console_still_opens(story, tmp_path):
    (keymap := tmp_path / "keymap.toml").write_text('"app.explorer" = e\n')
    app = _app(story[0], keymap)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        [error] = _errors(app)
        assert str(keymap) in error and "not valid TOML" in error
        await pilot.press("2")
        assert isinstance(app.screen, ExplorerScreen)


def test_read_keymap_accepts_quoted_and_dotted_ids_and_rejects_values_that_are_not_keys(tmp_path):
    known = {b.id for b in binding_catalogue()}
    (path := tmp_path / "k.toml").write_text(KEYMAP)
    assert read_keymap(path, known) == ({"app.explorer": "e", "runs.attribute": "ctrl+a"}, [])
    path.write_text('"app.demo" = 3\n')
    keymap, [problem] = read_keymap(path, known)
    assert keymap == {} and str(path) in problem and "app.demo" in problem
    assert read_keymap(tmp_path / "absent.toml", known) == ({}, [])


def test_rca_tui_keys_lists_every_binding_id_with_its_key(tmp_path, monkeypatch):
    from engine.config import settings
    from rca_tui.cli.main import app as cli

    (keymap := tmp_path / "keymap.toml").write_text(KEYMAP)
    monkeypatch.setenv("RCA_TUI_KEYMAP", str(keymap))
    settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["keys", "--json"])
    finally:
        settings.cache_clear()
    assert result.exit_code == 0, result.output
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    assert {"app.demo", "app.help", "runs.attribute", "replay.forward", "log.event"} <= set(rows)
    assert rows["runs.attribute"]["key"] == "ctrl+a" and rows["runs.attribute"]["default"] == "a"
    assert rows["app.demo"]["key"] == "d" and rows["app.demo"]["description"] == "Demo"
    starter = CliRunner().invoke(cli, ["keys", "--toml"]).stdout
    assert '# "runs.attribute" = "a"' in starter
