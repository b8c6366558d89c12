"""rca-tui: the Typer root. One module per command group; heavy imports stay inside the commands."""
from __future__ import annotations

import sys

import typer

from rca_tui.cli import agents, attribution, chain, console, eval, keys, report, runs, synth, tamo
from rca_tui.cli.common import ExitCode, say

app = typer.Typer(
    no_args_is_help=False,
    rich_markup_mode="markdown",
    help="Root-cause analysis by seven cooperating agents on a signed-transaction ledger, with white-box "
         "failure attribution. Run with no command to open the console.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(chain.app, name="chain")
app.add_typer(agents.app, name="agents")
app.add_typer(runs.sop_app, name="sop")
app.add_typer(runs.runs_app, name="runs")
app.add_typer(eval.app, name="eval")
app.add_typer(tamo.app, name="tamo")
runs.register(app)
app.callback(invoke_without_command=True)(console.open_console)
app.command()(console.replay)
app.command()(console.serve)
app.command("attribute")(attribution.attribute)
app.command("synth")(synth.synth)
app.command("report")(report.report)
app.command("keys")(keys.keys)


def run() -> None:
    from engine.store.errors import DatabaseUnusable

    try:
        app()
    except DatabaseUnusable as exc:  # newer, missing, or not trustworthy: say so, touch nothing
        say(f"error: {exc}")
        sys.exit(int(ExitCode.ERROR))
