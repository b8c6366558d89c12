"""Shared pieces of every command group: exit codes, --db / --json options, output helpers.

Data goes to stdout (``--json`` prints the same rows the table shows); people-facing text goes to stderr.
"""
from __future__ import annotations

import json
import shlex
import sys
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    NOT_FOUND = 3
    VERIFY_FAILED = 4
    INTERRUPT = 130


DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="SQLite file (default: $RCA_TUI_DB or ~/.local/share/rca-tui/rca.db)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


def resolve_db(db: Path | None, create: bool = True) -> Path:
    """The command's --db (or the one given before the command), else $RCA_TUI_DB or the default; with `create`,
    its folder is made so the database can be."""
    from engine.config import settings

    path = db or settings().db
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    return path


def invocation() -> str:
    """The command line as the user typed it, for an artefact's manifest."""
    return shlex.join(["rca-tui", *sys.argv[1:]])


def say(message: str) -> None:
    """People-facing text: stderr, so stdout stays parseable."""
    print(message, file=sys.stderr)


def emit_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False, default=str))


def fail(message: str, code: ExitCode = ExitCode.ERROR) -> NoReturn:
    say(f"error: {message}")
    raise typer.Exit(int(code))


_UNBOUNDED_WIDTH = 1000


def print_table(rows: list[dict[str, Any]], columns: list[str], title: str | None = None) -> None:
    """A rich table on stdout for people; rich is imported lazily to keep --help instant."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(row.get(column)) for column in columns))
    console = Console()
    if not console.is_terminal:  # a file or a pipe has no width to fit: keep every cell whole, not cut at 80 columns
        console = Console(width=_UNBOUNDED_WIDTH)
    console.print(table)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else str(value)
