"""`rca-tui report RUN --format md|html`: the postmortem of a run, with a verified proof and the attribution."""
import re

from typer.testing import CliRunner

from rca_tui.cli.main import app as cli


def test_markdown_report_has_every_section_and_a_verified_consensus_proof(story):
    db, run_id = story
    done = CliRunner().invoke(cli, ["report", run_id, "--db", str(db)])
    assert done.exit_code == 0, done.output
    text = done.stdout
    for section in ("## Summary", "## Alert", "## Timeline of agent steps", "## Vote",
                    "## Consensus transaction and Merkle proof", "## Repair plan", "## Chain verification"):
        assert section in text
    assert "✓ verified" in text and "✓ chain OK" in text
    assert re.search(r"\| \w+ \| (for|against|abstain) \| [0-9.]+ \| \d+ \|", text)  # each vote with its weight
    assert re.search(r"^#\d+ +\w+ +observe ", text, re.M)  # the steps, numbered like the Replay pane


def test_html_report_draws_the_soft_idg_of_an_attributed_run(attributed, tmp_path):
    app, run_id, payload = attributed
    target = tmp_path / "r.html"
    done = CliRunner().invoke(cli, ["report", run_id, "--format", "html", "-o", str(target),
                                    "--db", str(app.db_path)])
    assert done.exit_code == 0, done.output
    page = target.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page
    assert f"Blamed <b>{payload['who']}</b> at #" in page and f"(Soft-IDG step {payload['when']})" in page


def test_report_of_an_unknown_run_is_not_found(story):
    db, _ = story
    done = CliRunner().invoke(cli, ["report", "run-nope", "--db", str(db)])
    assert done.exit_code == 3 and "run-nope" in done.output
