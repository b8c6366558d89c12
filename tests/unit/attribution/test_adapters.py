from __future__ import annotations

import json

import pytest

from engine.attribution.adapters import from_engine_steps, load_trajectories, load_trajectory, speaker_to_agent_kind
from engine.attribution.context import apply_context_policy, context_indices
from engine.attribution.schema import TrajectoryError

HAND_CRAFTED = {
    "history": [
        {"role": "human", "content": "Find the gym near the NYSE."},
        {"role": "Orchestrator (thought)", "content": "Initial plan: ask WebSurfer."},
        {"role": "Orchestrator (-> WebSurfer)", "content": "Please search for gyms."},
        {"role": "WebSurfer", "content": "I typed 'gyms' into the search box."},
    ],
    "question": "Find the gym near the NYSE.", "ground_truth": "Renzo Gracie", "is_corrected": False,
    "question_ID": "hc-1", "mistake_agent": "WebSurfer", "mistake_step": "3", "mistake_reason": "wrong page",
}
ALGORITHM_GENERATED = {
    "history": [
        {"role": "assistant", "name": "Excel_Expert", "content": "Load the sheet."},
        {"role": "user", "name": "Computer_terminal", "content": "exitcode: 0"},
        {"role": "user", "name": "Verification_Expert", "content": "TERMINATE"},
    ],
    "question": "Count the clients.", "ground_truth": "8", "is_correct": False, "question_ID": "ag-1",
    "level": "1", "mistake_agent": "Excel_Expert", "mistake_step": "0", "mistake_reason": "edge cases",
    "system_prompt": {"Excel_Expert": "You are..."},
}


def write(tmp_path, name, record):
    path = tmp_path / name
    path.write_text(json.dumps(record))
    return path


def test_hand_crafted_speaker_is_split_into_agent_and_kind(tmp_path):
    trajectory = load_trajectory(write(tmp_path, "1.json", HAND_CRAFTED))
    assert [(s.agent, s.kind) for s in trajectory.steps] == [
        ("human", "query"), ("Orchestrator", "thought"), ("Orchestrator", "action"), ("WebSurfer", "message")]
    assert trajectory.steps[1].speaker == "Orchestrator (thought)"
    assert trajectory.label.when == 3 and trajectory.label.who == "WebSurfer"
    assert trajectory.meta["subset"] == "Hand-Crafted"
    assert trajectory.raw["mistake_reason"] == "wrong page"
    assert trajectory.ground_truth == "Renzo Gracie"


def test_algorithm_generated_speaker_comes_from_name_not_role(tmp_path):
    trajectory = load_trajectory(write(tmp_path, "2.json", ALGORITHM_GENERATED))
    assert [s.agent for s in trajectory.steps] == ["Excel_Expert", "Computer_terminal", "Verification_Expert"]
    assert trajectory.steps[1].kind == "observation"
    assert trajectory.meta["subset"] == "Algorithm-Generated"
    assert trajectory.label.when == 0


def test_bad_mistake_step_names_the_file_and_the_field(tmp_path):
    path = write(tmp_path, "bad.json", {**HAND_CRAFTED, "mistake_step": "three"})
    with pytest.raises(TrajectoryError) as raised:
        load_trajectory(path)
    assert isinstance(raised.value, ValueError)
    assert "bad.json" in str(raised.value) and "mistake_step" in str(raised.value)


def test_mistake_step_out_of_range_is_rejected(tmp_path):
    path = write(tmp_path, "far.json", {**HAND_CRAFTED, "mistake_step": "9"})
    with pytest.raises(TrajectoryError, match="label.when"):
        load_trajectory(path)


def test_step_without_speaker_is_rejected(tmp_path):
    record = {**ALGORITHM_GENERATED, "history": [{"role": "user", "name": "", "content": "x"}]}
    with pytest.raises(TrajectoryError, match=r"history\[0\]\.name"):
        load_trajectory(write(tmp_path, "3.json", record))


def test_jsonl_with_header_and_a_bad_line(tmp_path):
    good = tmp_path / "run.jsonl"
    good.write_text("\n".join(json.dumps(r) for r in [
        {"id": "run-7", "query": "why is checkout slow?", "label": {"who": "B", "when": 1}},
        {"agent": "A", "kind": "thought", "content": "look at metrics"},
        {"agent": "B", "content": "the database is fine"},
    ]))
    trajectory = load_trajectory(good)
    assert trajectory.id == "run-7" and trajectory.label.when == 1 and trajectory.steps[1].kind == "message"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"agent": "A", "content": "ok"}\n{not json}\n')
    with pytest.raises(TrajectoryError, match="bad.jsonl:2"):
        load_trajectory(bad)


def test_a_file_that_is_not_utf8_or_nests_too_deep_is_named_with_what_was_expected(tmp_path):
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"question": "caf\u00e9"}'.encode("latin-1"))
    with pytest.raises(TrajectoryError, match=r"latin\.json: field '\(file\)': expected UTF-8 text \(byte 0xe9"):
        load_trajectory(latin)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(TrajectoryError, match=r"deep\.json: .*JSON nested less deeply"):
        load_trajectory(deep)


def test_a_folders_bad_files_are_skipped_and_reported_and_the_rest_load(tmp_path):
    write(tmp_path, "1.json", HAND_CRAFTED)
    (tmp_path / "2.json").write_bytes(b'{"history": "\xff"}')
    (tmp_path / "3.json").write_text('{"history": [')
    write(tmp_path, "4.json", ALGORITHM_GENERATED)
    skipped: list[TrajectoryError] = []
    loaded = load_trajectories(tmp_path, skipped=skipped)
    assert [t.id for t in loaded] == ["hc-1", "ag-1"]
    assert [error.source.rsplit("/", 1)[-1] for error in skipped] == ["2.json", "3.json"]
    with pytest.raises(TrajectoryError, match="2.json"):  # without a list to report into, the first bad file stops
        load_trajectories(tmp_path)


def test_engine_run_steps_map_onto_the_schema():
    trajectory = from_engine_steps([
        {"agent": "alert_receiver", "kind": "thought", "content": "alert on payment"},
        {"agent": "alert_receiver", "kind": "tx", "content": "submit report"},
        {"agent": "metric_explorer", "kind": "observation", "content": "cpu 95%"},
    ], run_id="run-1")
    assert [s.kind for s in trajectory.steps] == ["thought", "tx", "observation"]
    assert trajectory.steps[2].context == (0, 1)
    with pytest.raises(TrajectoryError, match="kind"):
        from_engine_steps([{"agent": "a", "kind": "dance", "content": "x"}], run_id="run-2")


def test_context_policies(tmp_path):
    trajectory = load_trajectory(write(tmp_path, "1.json", HAND_CRAFTED), policy="sliding_window:2")
    assert trajectory.steps[3].context == (1, 2)
    assert context_indices(trajectory.steps, 3, "role_filtered:WebSurfer") == (0,)
    with pytest.raises(ValueError, match="sliding_window"):
        apply_context_policy(trajectory.__class__(id="x", query="", steps=trajectory.steps[:1]), "sliding_window:0")


def test_speaker_parsing():
    assert speaker_to_agent_kind("Orchestrator (-> FileSurfer)") == ("Orchestrator", "action")
    assert speaker_to_agent_kind("ComputerTerminal") == ("ComputerTerminal", "observation")


def test_folder_loading_filters_by_subset(tmp_path):
    (tmp_path / "Hand-Crafted").mkdir()
    (tmp_path / "Algorithm-Generated").mkdir()
    write(tmp_path / "Hand-Crafted", "10.json", HAND_CRAFTED)
    write(tmp_path / "Hand-Crafted", "2.json", HAND_CRAFTED)
    write(tmp_path / "Algorithm-Generated", "1.json", ALGORITHM_GENERATED)
    assert len(load_trajectories(tmp_path)) == 3
    hand_crafted = load_trajectories(tmp_path, subset="Hand-Crafted")
    assert [t.meta["source"].split("/")[-1] for t in hand_crafted] == ["2.json", "10.json"]
