"""`rca-tui keys`: every key of the console by binding id, so a user can write a keymap file.

    rca-tui keys                      # id, key (the keymap's where it remaps one), default, where, description
    rca-tui keys --json               # the same rows, with each key's longer help
    rca-tui keys --toml > ~/.config/rca-tui/keymap.toml   # a starter file, every line commented out
"""
from __future__ import annotations

import sys
from typing import Annotated

import typer

from rca_tui.cli.common import ExitCode, JsonOption, emit_json, print_table, say

COLUMNS = ["id", "key", "default", "where", "description"]


def keys(
    json_out: JsonOption = False,
    toml: Annotated[bool, typer.Option("--toml", help="Print a starter keymap file (every line commented out).")]
    = False,
) -> None:
    """List every console key by binding id, with its key, where it works and what it does. Remap keys in a TOML
    file (`$RCA_TUI_KEYMAP`, default `~/.config/rca-tui/keymap.toml`): `"runs.attribute" = "ctrl+a"`."""
    from engine.config import settings
    from rca_tui.keymap import binding_catalogue, read_keymap, starter_file

    catalogue = binding_catalogue()
    if toml:
        sys.stdout.write(starter_file(catalogue))
        return
    path = settings().keymap
    keymap, problems = read_keymap(path, {b.id for b in catalogue})
    rows = [{**binding.row(), "key": keymap.get(binding.id, binding.key), "default": binding.key}
            for binding in catalogue]
    if json_out:
        emit_json([{column: row[column] for column in [*COLUMNS, "help"]} for row in rows])
    else:
        print_table(rows, COLUMNS, title=f"console keys ({path if path.exists() else 'default keys'})")
    for problem in problems:
        say(f"error: {problem}")
    if problems:
        say("the console will use the default keys")
        raise typer.Exit(int(ExitCode.ERROR))
