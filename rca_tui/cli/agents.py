"""`rca-tui agents …`: the token leaderboard."""
from __future__ import annotations

import typer

from rca_tui.cli.common import DbOption, JsonOption, emit_json, print_table, resolve_db

app = typer.Typer(help="The seven agents and their economy.", no_args_is_help=True)


@app.command()
def economy(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Token leaderboard: balance, stake, locked stake, reputation, vote weight."""
    from engine.runs.session import Session

    rows = Session(resolve_db(db)).economy()
    if json_out:
        emit_json(rows)
    else:
        print_table(rows, ["agent", "balance", "stake", "locked", "reputation", "vote_weight", "nonce"],
                    title="Agent economy")
