"""`rca-tui run --reasoner openai` end to end against llama.cpp's OpenAI-compatible server and the bundled model.

Every reply is counted; with `--fallback` a reply that fails the checks is answered by the heuristic reasoner, so
the run always finishes and the count says how much the model itself decided. Asked for structured output, the
server decodes inside the reply schema, so the 135M model's replies are used as given; asked without, they are
not JSON the checks accept."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rca_tui.cli.main import app

DEMO = Path(__file__).resolve().parents[3] / "data" / "demo"
CASE = "tt-2023-01-29-18"

pytestmark = pytest.mark.llama_server


def _run(url: str, db: Path, response_format: str) -> dict:
    started = time.perf_counter()
    result = CliRunner().invoke(app, ["run", CASE, "--dataset", str(DEMO), "--reasoner", "openai", "--llm-url", url,
                                      "--llm-model", "smollm2", "--llm-timeout", "300", "--fallback",
                                      "--llm-response-format", response_format, "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    print(f"\n{response_format}: replies {report['replies']} root cause {report['root_cause']} "
          f"in {time.perf_counter() - started:.0f} s")
    return report


def test_structured_output_keeps_the_small_model_in_schema(llama_server, tmp_path):
    report = _run(llama_server, tmp_path / "structured.db", "json_schema")
    replies = report["replies"]
    # llama-cpp-python's server fails on the json_schema form (500) and turns a json_object's schema into a grammar
    assert replies["response_format"] == "json_object+schema"
    assert report["status"] == "finished" and replies["replies"] > 7
    assert replies["used_as_given"] >= replies["replies"] // 2


def test_without_response_format_the_small_model_fails_the_checks(llama_server, tmp_path):
    unstructured = _run(llama_server, tmp_path / "plain.db", "none")["replies"]
    assert unstructured["response_format"] == "none" and unstructured["replies"] > 7
    assert unstructured["used_as_given"] < unstructured["replies"] // 2
