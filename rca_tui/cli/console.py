"""The console commands: `rca-tui` with no command (open the console), `rca-tui replay`, `rca-tui serve`.

Plain Typer-annotated functions; the root CLI registers them. Textual is imported inside them so that
`rca-tui --help` stays instant.
"""
from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from rca_tui.cli.common import DbOption, ExitCode, JsonOption, emit_json, fail, out, resolve_db, say


def open_console(ctx: typer.Context, db: DbOption = None) -> None:
    """Open the console (it offers the bundled demo when the database holds no runs)."""
    if ctx.invoked_subcommand is None:
        launch_console(resolve_db(db))
    elif db is not None:  # `rca-tui --db X runs list`: X is every command's --db default (its own --db wins)
        ctx.default_map = _option_defaults(ctx.command, {"db": db})


def _option_defaults(command, values: dict) -> dict:
    """A click default_map giving `values` to `command` and to every command below it."""
    nested = {name: _option_defaults(sub, values) for name, sub in getattr(command, "commands", {}).items()}
    return {**values, **nested}


def launch_console(db_path: Path, **options) -> None:
    """The Textual console on `db_path`; options go to `RcaApp` (start_demo, offer_demo, replay_run, ...)."""
    from engine.config import settings
    from rca_tui.app import RcaApp

    RcaApp(db_path, keymap_path=settings().keymap, **options).run()


def replay(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="A run id from `rca-tui runs list`.")],
    step: Annotated[int | None, typer.Option("--step", min=0, help="Cursor: the state after N events.")] = None,
    headless: Annotated[bool, typer.Option("--headless", help="No console: print the state at --step.")] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Replay a past run in the console, or print the state at step N (`--headless --json`)."""
    from engine.runs.session import Session

    session = Session(resolve_db(db))
    if session.run(run_id) is None:
        fail(f"no run {run_id!r} (see `rca-tui runs list`)", ExitCode.NOT_FOUND)
    if not headless:
        session.close()
        launch_console(resolve_db(db), offer_demo=False, replay_run=run_id, replay_step=step)
        return
    from rca_tui.formatting import replay_state

    state = replay_state(session, run_id, step)
    if json_out:
        emit_json(state)
    else:
        _say_state(state)


def serve(
    db: DbOption = None,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port on 127.0.0.1.")] = 8000,
) -> None:
    """The console in a browser (textual-serve), bound to 127.0.0.1 only; only its own page may connect."""
    from rca_tui.serve import serve as serve_locally

    command = shlex.join([sys.executable, "-m", "rca_tui", "--db", str(resolve_db(db))])
    say(f"serving the console on http://127.0.0.1:{port} (Ctrl+C stops)")
    serve_locally(command, port)


def _say_state(state: dict) -> None:
    sop = state["sop"]
    votes = state["votes"]
    out(f"run {state['run_id']}: event {state['cursor']}/{state['total']}, block {state['block_height']}")
    out(f"SOP: {sop['state']} ({len(sop['history'])} transitions, {len(sop['reverts'])} reverted/refused txs)")
    if votes:
        out(f"votes on {votes['root_cause']}: for {votes['for']} against {votes['against']} "
            f"abstain {votes['abstain']} → {votes['outcome']}")
    for line in state["log"][-10:]:
        out(line)
