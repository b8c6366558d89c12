"""`eval attribution --train/--test` and `--tracer-model`: held-out figures, the majority prior, manifests and
in-sample warnings."""
from __future__ import annotations

import json

from tests.unit.attribution.test_adapters import ALGORITHM_GENERATED, HAND_CRAFTED
from tests.unit.attribution.test_export_cli import run


def write_folder(root, name: str, record: dict, count: int, prefix: str):
    folder = root / name
    folder.mkdir()
    for i in range(count):
        (folder / f"{i}.json").write_text(json.dumps({**record, "question_ID": f"{prefix}-{i}"}))
    return folder


def test_train_test_scores_on_the_test_folder_with_the_training_prior(tiny_model_dir, tmp_path):
    train = write_folder(tmp_path, "train", HAND_CRAFTED, 4, "train")
    test = write_folder(tmp_path, "test", ALGORITHM_GENERATED, 3, "test")
    result = run("eval-attribution", "--train", str(train), "--test", str(test), "--model", str(tiny_model_dir),
                 "--seed", "0", "--no-ablations", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["protocol"] == "train/test"
    scored = report["subsets"]["test"]
    assert scored["n"] == 3 and scored["n_train"] == 4
    assert scored["train_majority_agent"] == HAND_CRAFTED["mistake_agent"]
    # the training folder's culprit never speaks in the test trajectories: the prior baseline cannot name it right
    majority = scored["baselines"]["majority_agent(train)"]
    assert majority["who"] == 0.0 and majority["majority_share"] == 1.0
    for mode in ("without_gt", "with_gt"):
        assert 0.0 <= scored["learned_tracer"][mode]["majority_share"] <= 1.0


def test_saved_tracer_gets_a_manifest_and_in_sample_trajectories_are_flagged(tiny_model_dir, tmp_path):
    data = write_folder(tmp_path, "data", HAND_CRAFTED, 4, "hc")
    fresh = write_folder(tmp_path, "fresh", HAND_CRAFTED, 2, "new")
    tracer = tmp_path / "tracer.npz"
    saved = run("eval-attribution", "--data", str(data), "--model", str(tiny_model_dir), "--folds", "2",
                "--seed", "0", "--no-ablations", "--json", "--save-tracer", str(tracer))
    assert saved.exit_code == 0, saved.output
    manifest = json.loads((tmp_path / "tracer.npz.manifest.json").read_text())
    assert sorted(manifest["trained_on"]) == [f"hc-{i}" for i in range(4)]

    in_sample = run("eval-attribution", "--tracer-model", str(tracer), "--test", str(data),
                    "--model", str(tiny_model_dir), "--json")
    assert in_sample.exit_code == 0, in_sample.output
    assert "in-sample" in in_sample.stderr and "4 of these 4" in in_sample.stderr
    assert json.loads(in_sample.stdout)["subsets"]["test"]["in_sample"] == [f"hc-{i}" for i in range(4)]

    unseen = run("eval-attribution", "--tracer-model", str(tracer), "--test", str(fresh),
                 "--model", str(tiny_model_dir), "--json")
    assert unseen.exit_code == 0, unseen.output
    assert "in-sample" not in unseen.stderr
    report = json.loads(unseen.stdout)
    assert report["protocol"] == "saved tracer" and report["subsets"]["test"]["n"] == 2
    assert "majority_agent(train)" in report["subsets"]["test"]["baselines"]


def test_protocol_options_that_do_not_fit_together_are_usage_errors(tmp_path):
    folder = write_folder(tmp_path, "d", HAND_CRAFTED, 1, "x")
    for args in (("--train", str(folder)), ("--data", str(folder), "--test", str(folder), "--train", str(folder)),
                 ("--tracer-model", str(tmp_path / "missing.npz"), "--train", str(folder)), ()):
        result = run("eval-attribution", *args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
    missing = run("eval-attribution", "--tracer-model", str(tmp_path / "missing.npz"), "--test", str(folder))
    assert missing.exit_code == 3 and "missing.npz" in missing.output


def test_chunked_reading_covers_the_labelled_steps_a_single_pass_drops(tiny_model_dir, tmp_path):
    steps = [{"role": "human", "content": "Find the gym near the NYSE."}]
    steps += [{"role": "WebSurfer" if i % 2 else "Orchestrator (thought)", "content": f"step {i}: search gyms " * 12}
              for i in range(1, 30)]
    record = {**HAND_CRAFTED, "history": steps, "mistake_step": "15"}
    data = write_folder(tmp_path, "long", record, 4, "long")
    covered = {}
    for layout in ("--chunked", "--one-pass"):
        result = run("eval-attribution", "--data", str(data), "--model", str(tiny_model_dir), "--folds", "2",
                     "--seed", "0", "--no-ablations", "--max-tokens", "96", layout)
        assert result.exit_code == 0, result.output
        covered[layout] = result.stdout  # the table is the command's output
    assert "labelled mistake steps read by the SLM: 4 of 4" in covered["--chunked"]
    assert "labelled mistake steps read by the SLM: 0 of 4" in covered["--one-pass"]


def test_only_the_same_trajectory_counts_as_in_sample_not_the_same_question(tiny_model_dir, tmp_path):
    hand = write_folder(tmp_path, "hand", HAND_CRAFTED, 3, "q")
    generated = write_folder(tmp_path, "generated", ALGORITHM_GENERATED, 3, "q")  # the same question ids
    args = ("--model", str(tiny_model_dir), "--seed", "0", "--no-ablations", "--json")
    other = run("eval-attribution", "--train", str(hand), "--test", str(generated), *args)
    assert other.exit_code == 0, other.output
    assert "in both --train and --test" not in other.stderr
    same = run("eval-attribution", "--train", str(hand), "--test", str(hand), *args)
    assert "3 trajectories are in both --train and --test" in same.stderr


def test_one_bad_file_in_the_folder_is_reported_and_skipped_and_the_rest_scored(tiny_model_dir, tmp_path):
    data = write_folder(tmp_path, "data", HAND_CRAFTED, 4, "hc")
    (data / "9.json").write_bytes(b'{"history": "\xff"}')
    result = run("eval-attribution", "--data", str(data), "--subset", "all", "--model", str(tiny_model_dir),
                 "--folds", "2", "--seed", "0", "--no-ablations", "--json")
    assert result.exit_code == 0, result.output
    assert "skipped" in result.stderr and "9.json: field '(file)': expected UTF-8 text" in result.stderr
    [scored] = json.loads(result.stdout)["subsets"].values()
    assert scored["n"] == 4
