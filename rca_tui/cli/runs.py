"""Runs and their views: demo, runs list, events, sop status, reset."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rca_tui.cli.common import DbOption, ExitCode, JsonOption, emit_json, fail, print_table, resolve_db, say

runs_app = typer.Typer(help="Past and running incident runs.", no_args_is_help=True)
sop_app = typer.Typer(help="The SOP state machine of an incident.", no_args_is_help=True)


def _session(db: Path | None):
    from engine.runs.session import Session

    return Session(resolve_db(db))


def demo(db: DbOption = None, json_out: JsonOption = False,
         headless: Annotated[bool, typer.Option("--headless", help="No console; print the result.")] = True) -> None:
    """Run the bundled demo incident end to end through the ledger and print the blocks."""
    from engine.runs.scripted import run_scripted_incident

    session = _session(db)
    result = run_scripted_incident(session)
    if json_out:
        emit_json(result)
        return
    say(f"run {result['run_id']}: root cause {result['root_cause']} (incident {result['incident']})")
    for proposal in result["proposals"]:
        say(f"  proposal {proposal['root_cause']} by {proposal['proposer']}: {proposal['outcome']} "
            f"(tx {proposal['tx'][:16]}, block {proposal['block']})")
    rows = [dict(r) for r in session.conn.execute(
        "SELECT b.height, substr(b.hash, 1, 16) AS hash, b.tx_count, group_concat(t.tx_type, ' ') AS txs"
        " FROM blocks b LEFT JOIN transactions t ON t.block_height = b.height"
        " GROUP BY b.height ORDER BY b.height DESC LIMIT 40")]
    print_table(rows, ["height", "hash", "tx_count", "txs"], title="Blocks (newest first)")


@runs_app.command("list")
def list_runs(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Every run: id, incident, reasoner, status, root cause."""
    rows = [{**r, "root_cause": (r["result"] or {}).get("root_cause")} for r in _session(db).runs()]
    if json_out:
        emit_json([{k: v for k, v in r.items() if k != "result"} for r in rows])
    else:
        print_table(rows, ["run_id", "incident", "reasoner", "status", "root_cause", "started_at"], title="Runs")


def events(db: DbOption = None, json_out: JsonOption = False,
           run: Annotated[str | None, typer.Option("--run", help="Only this run.")] = None,
           limit: Annotated[int | None, typer.Option(help="Newest N events.")] = None) -> None:
    """Run events in order: thoughts, actions, observations, txs, blocks, votes, consensus."""
    session = _session(db)
    if run is not None and session.run(run) is None:
        fail(f"no run {run!r} (see `rca-tui runs list`)", ExitCode.NOT_FOUND)
    rows = [e.to_dict() for e in session.run_events(run, limit)]
    if json_out:
        emit_json(rows)
    else:
        print_table(rows, ["run_id", "seq", "kind", "block_height", "payload"], title="Events")


@sop_app.command("status")
def sop_status(db: DbOption = None, json_out: JsonOption = False,
               run: Annotated[str | None, typer.Option("--run", help="The run's incident (default: latest run).")]
               = None) -> None:
    """Current SOP state, transition history with block heights, and the tally of the open proposal."""
    session = _session(db)
    runs = session.runs()
    chosen = next((r for r in runs if r["run_id"] == run), None) if run else (runs[0] if runs else None)
    if chosen is None:
        fail(f"no run {run!r}" if run else "no runs yet (try `rca-tui demo`)", ExitCode.NOT_FOUND)
    status = session.sop_status(chosen["incident"])
    if status is None:
        fail(f"incident {chosen['incident']} was never opened on chain", ExitCode.NOT_FOUND)
    if json_out:
        emit_json({"run_id": chosen["run_id"], **status})
        return
    say(" → ".join(f"[{s}]" if s == status["state"] else s for s in status["states"]))
    print_table(status["history"], ["height", "from", "to", "tx"], title=f"SOP of {chosen['incident']}")


def reset(db: DbOption = None,
          yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False) -> None:
    """Delete the database (chain, state, runs, events) and the agents' keystore."""
    import shutil

    path = resolve_db(db)
    if not yes and not typer.confirm(f"Delete {path} and its keystore?"):
        raise typer.Exit(int(ExitCode.USAGE))
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    shutil.rmtree(str(path) + ".keys", ignore_errors=True)
    say(f"removed {path}")


def register(app: typer.Typer) -> None:
    app.command()(demo)
    app.command()(events)
    app.command()(reset)
