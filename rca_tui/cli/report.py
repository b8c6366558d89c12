"""`rca-tui report RUN_ID --format md|html`: the postmortem an SRE pastes into a ticket."""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from rca_tui.cli.common import DbOption, ExitCode, JsonOption, emit_json, fail, resolve_db, say


class ReportFormat(str, Enum):
    md = "md"
    html = "html"


def report(run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="A run id from `rca-tui runs list`.")],
           format: Annotated[ReportFormat, typer.Option("--format", "-f", help="md (Markdown) or html.")]
           = ReportFormat.md,
           output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")]
           = None,
           verify: Annotated[bool, typer.Option("--verify/--no-verify", help="Re-check the whole chain.")] = True,
           db: DbOption = None, json_out: JsonOption = False) -> None:
    """The incident report of a run: alert, agent steps with their numbers, the vote and its weights, the consensus
    tx with its verified Merkle proof, the repair plan, TAMO's report, the attribution and the chain check."""
    from engine.runs.report import ReportError, incident_report
    from engine.runs.session import Session

    session = Session(resolve_db(db))
    try:
        data = incident_report(session, run_id, verify=verify)
    except ReportError as error:
        fail(str(error), ExitCode.NOT_FOUND)
    finally:
        session.close()
    if json_out:
        emit_json({**data, "steps": [e.to_dict() for e in data["steps"]]})
        return
    from rca_tui.report import to_html, to_markdown

    text = to_html(data) if format is ReportFormat.html else to_markdown(data)
    if output is None:
        print(text, end="")
    else:
        output.write_text(text, encoding="utf-8")
        say(f"wrote the {format.value} report of {run_id} to {output}")
    if data["verification"] is not None and not data["verification"]["ok"]:
        raise typer.Exit(int(ExitCode.VERIFY_FAILED))
