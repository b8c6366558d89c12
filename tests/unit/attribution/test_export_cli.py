from __future__ import annotations

import json
import subprocess
import sys

import typer
from typer.testing import CliRunner

from rca_tui.cli.attribution import attribute, eval_attribution
from tests.unit.attribution.test_adapters import ALGORITHM_GENERATED, HAND_CRAFTED


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("attribute")(attribute)
    app.command("eval-attribution")(eval_attribution)
    return app


def run(*args: str):
    return CliRunner().invoke(cli(), list(args))


def write_steps(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"agent": "Planner", "kind": "thought", "content": "check the payment service latency"},
        {"agent": "Coder", "kind": "action", "content": "assume the database is down </script><b>x</b>"},
        {"agent": "Terminal", "kind": "observation", "content": "Traceback: connection refused"},
        {"agent": "Verifier", "kind": "message", "content": "root cause: database. TERMINATE"},
    ]))
    return path


def test_attribute_prints_who_when_json_and_writes_dot_and_html(tiny_model_dir, tmp_path):
    dot, page = tmp_path / "g.dot", tmp_path / "g.html"
    result = run("attribute", str(write_steps(tmp_path)), "--model", str(tiny_model_dir), "--json",
                 "--dot", str(dot), "--html", str(page))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["who"] in {"Planner", "Coder", "Verifier"} and data["when"] in {0, 1, 3}
    assert data["evidence_path"][0] == data["when"] and data["top_steps"][0]["step"] == data["when"]
    assert data["tracer"] == "rule"  # a trajectory file gets the rule tracer unless --tracer-model is given
    assert dot.read_text().startswith('digraph "run"') and f"s{data['when']} [label=" in dot.read_text()
    html = page.read_text()
    assert "check the payment service latency" in html and "</script><b>" not in html


def test_attribute_prints_its_answer_on_stdout_for_pipes(tiny_model_dir, tmp_path):
    result = run("attribute", str(write_steps(tmp_path)), "--model", str(tiny_model_dir))
    assert result.exit_code == 0, result.output
    answer = dict(line.split(":", 1) for line in result.stdout.splitlines() if line.startswith(("who:", "when:")))
    assert answer["who"].strip() in {"Planner", "Coder", "Verifier"} and answer["when"].strip().startswith("step ")
    assert "who:" not in result.stderr


def test_attribute_bad_record_exits_with_usage_and_names_the_field(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**HAND_CRAFTED, "mistake_step": "x"}))
    result = run("attribute", str(bad))
    assert result.exit_code == 2
    assert "mistake_step" in result.output and "bad.json" in result.output and "Traceback" not in result.output


def test_eval_attribution_reports_baselines_rule_and_learned_per_subset(tiny_model_dir, tmp_path):
    for subset, record in (("Hand-Crafted", HAND_CRAFTED), ("Algorithm-Generated", ALGORITHM_GENERATED)):
        (tmp_path / subset).mkdir()
        for i in range(4):
            (tmp_path / subset / f"{i}.json").write_text(json.dumps({**record, "question_ID": f"{subset}-{i}"}))
    result = run("eval-attribution", "--data", str(tmp_path), "--model", str(tiny_model_dir), "--folds", "2",
                 "--seed", "0", "--no-ablations", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["subsets"]) == {"Hand-Crafted", "Algorithm-Generated"}
    hand = report["subsets"]["Hand-Crafted"]
    assert hand["n"] == 4 and "most_frequent_speaker" in hand["baselines"]
    assert hand["baselines"]["majority_agent(train)"]["who"] == 1.0
    assert set(hand["learned_tracer"]) == {"without_gt", "with_gt"} and "when_substring_upstream" in hand["rule_tracer"]


def test_importing_the_commands_does_not_import_torch():
    code = "import sys, rca_tui.cli.attribution; print('torch' in sys.modules, 'engine.attribution' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.split() == ["False", "False"]


def test_engine_attribution_never_imports_the_ui():
    code = ("import sys, engine.evaluation.attribution, engine.attribution.export, engine.attribution.learned; "
            "print(sorted(m for m in ('rich', 'typer', 'textual') if m in sys.modules))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"
