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
    """People-facing text (warnings, what was written where): stderr, so stdout stays parseable."""
    print(message, file=sys.stderr)


def out(message: str = "") -> None:
    """Data a command shows (a result line, a proof, a summary): stdout, so `| grep` and `| less` see it."""
    print(message)


def emit_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False, default=str))


def fail(message: str, code: ExitCode = ExitCode.ERROR) -> NoReturn:
    say(f"error: {message}")
    raise typer.Exit(int(code))


PIPE_WIDTH = 120  # a pipe's width when no terminal tells us one


def pipe_width() -> int:
    """The width for stdout: the terminal's; when stdout is a pipe (`| less`), the terminal stderr still shows,
    else $COLUMNS, else PIPE_WIDTH."""
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            if stream.isatty():
                return os.get_terminal_size(stream.fileno()).columns
        except (OSError, ValueError, AttributeError):
            continue
    try:
        return max(40, int(os.environ.get("COLUMNS", "")))
    except ValueError:
        return PIPE_WIDTH


def print_table(rows: list[dict[str, Any]], columns: list[str], title: str | None = None) -> None:
    """A table on stdout. On a terminal, a rich table; to a pipe or a file, plain aligned columns at
    `pipe_width()`: short cells (ids, names, times) whole, long ones folded onto more lines, never cut and
    never a 1,200-column row."""
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    if not sys.stdout.isatty():
        sys.stdout.write(plain_table(cells, columns, title, pipe_width()))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in cells:
        table.add_row(*row)
    Console().print(table)


SHORT_CELL = 20



def print_confusion(confusion: dict[str, dict[str, int]], title: str) -> None:
    """A fault-type confusion matrix (true type -> guessed type -> cases) as a table, a row per true type."""
    print_table([{"true type": truth, **row} for truth, row in confusion.items()], ["true type", *confusion],
                title=title)

def plain_table(cells: list[list[str]], columns: list[str], title: str | None, width: int) -> str:
    """Columns two spaces apart; columns wider than SHORT_CELL share what `width` leaves and fold."""
    natural = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    short = [n <= SHORT_CELL for n in natural]
    room = width - 2 * (len(columns) - 1) - sum(n for n, s in zip(natural, short) if s)
    wide = [i for i, s in enumerate(short) if not s]
    widths = list(natural)
    for rank, i in enumerate(sorted(wide, key=lambda i: natural[i])):  # narrowest long column first
        share = max(SHORT_CELL, room // (len(wide) - rank))
        widths[i] = min(natural[i], share)
        room -= widths[i]
    lines = [title] if title else []
    lines.append("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        folded = [[cell[k:k + w] for k in range(0, len(cell), w)] or [""] for cell, w in zip(row, widths)]
        for k in range(max(len(f) for f in folded)):
            lines.append("  ".join((f[k] if k < len(f) else "").ljust(w) for f, w in zip(folded, widths)).rstrip())
    return "\n".join(lines) + "\n"


class progress:
    """Progress of a long job on stderr, `--json` or not: a live bar on a terminal, else one line per item
    (at most one every `every` seconds) so a log file or CI shows it too. Yields `update(done, total, label)`."""

    def __init__(self, what: str, every: float = 2.0) -> None:
        self.what, self.every = what, every
        self.bar = self.task = None
        self.last = 0.0

    def __enter__(self):
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn(self.what), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                TextColumn("{task.description}"), console=Console(stderr=True))
            self.bar.start()
            self.task = self.bar.add_task("", total=None)
        return self.update

    def update(self, done: int, total: int | None, label: Any = "") -> None:
        label = getattr(label, "case_id", label)
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=total, description=str(label))
            return
        import time

        now = time.monotonic()
        if now - self.last >= self.every or (total is not None and done >= total):
            self.last = now
            say(f"{self.what} {done}/{total if total is not None else '?'} {label}".rstrip())

    def __exit__(self, *exc_info) -> None:
        if self.bar is not None:
            self.bar.stop()


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else str(value)


def ranker_choice(tamo: str | None, stacker: str | None) -> tuple[str, str]:
    """--tamo-model / --stacker as the runner takes them ("default", "none" or an existing file); a missing file
    is the user's mistake, named before anything runs. --tamo-model none turns the TAMO-fed stacker off too."""
    tamo, stacker = tamo or "default", stacker or "default"
    for option, value in (("--tamo-model", tamo), ("--stacker", stacker)):
        if value not in ("default", "none") and not Path(value).is_file():
            fail(f"{option} {value}: no such file (give a path, 'default' or 'none')", ExitCode.NOT_FOUND)
    return tamo, stacker


def scale_out_note(scale_out: dict | None) -> str:
    """" (serial)", " (2 worker processes)" or " (Dask cluster ADDR)": how a batch command ran, for its summary line."""
    if not scale_out:
        return ""
    if scale_out["dask_scheduler"]:
        return f" (Dask cluster {scale_out['dask_scheduler']})"
    return f" ({scale_out['workers']} worker processes)" if scale_out["workers"] > 1 else " (serial)"
