"""`rca-tui eval rca --protocol … / --train --test` and `--stacker` on synthetic PetShop cases; `tamo eval --model`
flags the cases a checkpoint was trained on."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rca_tui.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
PETSHOP = Path(os.environ.get("RCA_TUI_DATASETS", ROOT.parent / "shared" / "datasets")) / "rca" / "petshop"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> tuple[Path, Path]:
    if not PETSHOP.is_dir():
        pytest.skip(f"dataset folder {PETSHOP} is absent")
    out = tmp_path_factory.mktemp("syn")
    folders = []
    for name, services in (("a", "PetSearch_AWS::ECS::Fargate,payforadoption_AWS::ECS::Container"),
                           ("b", "petlistadoptions_AWS::ECS::Fargate")):
        result = CliRunner().invoke(app, ["synth", "--from", str(PETSHOP), "--out", str(out / name), "--services",
                                          services, "--seed", "1", "--json"])
        assert result.exit_code == 0, result.output
        folders.append(out / name)
    return folders[0], folders[1]


def _eval(*args: str):
    return CliRunner().invoke(app, ["eval", "rca", *args, "--tamo-model", "none", "--json"])


def test_kfold_protocol_prints_trivial_statistical_and_stacked_rows(synthetic, tmp_path, isolated_cache):
    result = _eval("--dataset", str(synthetic[0]), "--protocol", "kfold,leave-fault-type-out", "--folds", "3")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["table"]
    methods = {r["method"] for r in rows}
    assert {"random (seed 0)", "single signal (best on train)", "statistical ranking (current)",
            "stacked (heuristic tools)"} <= methods
    kfold_all = [r for r in rows if r["protocol"] == "kfold" and r["system"] == "all"]
    assert all(r["cases"] == 12 for r in kfold_all if r["method"] != "TAMO T2 alone")
    # each case's out-of-sample position per ranker, and the table's AC@1 is their share at the top
    positions = json.loads(result.stdout)["case_positions"]["kfold"]
    assert len(positions) == 12 and len({case["case_id"] for case in positions}) == 12
    for row in kfold_all:
        if row["cases"]:
            at_top = [case["positions"][row["method"]] == 1 for case in positions if row["method"] in case["positions"]]
            assert len(at_top) == row["cases"] and round(sum(at_top) / len(at_top), 4) == row["AC@1"]


def test_train_on_one_folder_score_another_and_the_agents_use_the_saved_stacker(synthetic, tmp_path,
                                                                               isolated_cache):
    train, test = synthetic
    stacker = tmp_path / "stacker.json"
    result = _eval("--train", str(train), "--test", str(test), "--save-stacker", str(stacker))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {r["protocol"] for r in report["table"]} == {"train-test"}
    manifest = json.loads(Path(str(stacker) + ".manifest.json").read_text())
    assert len(manifest["trained_on"]) == 12 and all(case in manifest["trained_on"] for case in
                                                      json.loads(stacker.read_text())["trained_on"])
    run = CliRunner().invoke(app, ["eval", "rca", "--dataset", str(test), "--stacker", str(stacker), "--case",
                                   json.loads(CliRunner().invoke(app, ["eval", "rca", "--dataset", str(test),
                                   "--json"]).stdout)["cases"][0]["case_id"], "--json"])
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["table"][0]["count"] == 1


@pytest.mark.parametrize("args, named", [
    (["--dataset", "DIR", "--protocol", "bogus"], "--protocol 'bogus'"),
    (["--dataset", "DIR", "--protocol", "synthetic"], "needs --train DIR"),
    (["--train", "/no/such", "--test", "DIR"], "/no/such: not a folder"),
])
def test_bad_protocol_input_is_named_without_a_traceback(synthetic, args, named):
    result = _eval(*[str(synthetic[0]) if a == "DIR" else a for a in args])
    assert result.exit_code == 2 and named in result.output and "Traceback" not in result.output


def test_tamo_eval_model_flags_the_cases_the_checkpoint_was_trained_on():
    checkpoint = ROOT / "data" / "tamo" / "tamo-nezha.pt"
    if not checkpoint.is_file():
        pytest.skip("no bundled TAMO checkpoint")
    result = CliRunner().invoke(app, ["tamo", "eval", "--dataset", str(ROOT / "data" / "demo"), "--model",
                                      str(checkpoint), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["in_sample_cases"] and list(report["variants"]) == ["in-sample (trained on these)"]
    # the fault type the agents act on is scored too, and the demo case (in its manifest) is kept apart
    classifier = report["fault_kind_classifier"]
    assert list(classifier["variants"]) == ["in-sample (trained on these)"]
    assert classifier["variants"]["in-sample (trained on these)"]["cases"] == 1


def test_protocol_trains_tamo_per_split_once_and_scores_the_agents_consensus(synthetic, monkeypatch, tmp_path,
                                                                             isolated_cache):
    from engine.evaluation import protocol, tamo
    from engine.tamo.model import TrainConfig

    monkeypatch.setattr(protocol, "TrainConfig", lambda: TrainConfig(t1_steps=5, t2_steps=20, t3_steps=5,
                                                                     t3_members=1, members=2))
    args = ["eval", "rca", "--dataset", str(synthetic[0]), "--protocol", "kfold", "--folds", "3", "--json"]
    result = CliRunner().invoke(app, [*args, "--agents"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    rows = {r["method"]: r for r in report["table"] if r["system"] == "all"}
    assert report["tamo"] == "trained per split (out of fold)" and not report["tamo_in_sample_cases"]
    for method in ("TAMO T2 alone", "stacked (fused + TAMO T2)", "consensus (the seven agents)"):
        assert rows[method]["cases"] == 12, method
    assert report["tamo_fault_type"]["kfold"]["cases"] == 12
    checkpoints = list((tmp_path / "cache" / "tamo-oof").glob("*.pt"))
    members = [path for path in checkpoints if path.with_suffix(".json").is_file()]
    assert len(members) == 6 and len(checkpoints) == 9  # two members per fold, and each fold's joined ensemble
    monkeypatch.setattr(tamo, "train_model", lambda *a, **k: pytest.fail("a cached fold was trained again"))
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert {r["method"]: r for r in json.loads(again.stdout)["table"] if r["system"] == "all"}["TAMO T2 alone"] \
        == rows["TAMO T2 alone"]


def test_fault_type_takes_only_the_named_synthetic_fault_types(synthetic, isolated_cache):
    real, other = synthetic
    result = CliRunner().invoke(app, ["eval", "fault-type", "--dataset", str(real), "--test", str(other),
                                      "--synthetic-faults", "network_delay", "--folds", "3", "--json"])
    assert result.exit_code == 0, result.output
    held_out = json.loads(result.stdout)["reports"][-1]
    assert held_out["protocol"] == "synthetic (another seed)"
    confusion = held_out["at"]["true root cause"]["confusion"]
    assert {kind for kind, row in confusion.items() if sum(row.values())} == {"network_delay"}


def test_fault_type_refuses_an_unknown_synthetic_fault_type_naming_the_option(synthetic):
    result = CliRunner().invoke(app, ["eval", "fault-type", "--dataset", str(synthetic[0]),
                                      "--synthetic-faults", "network_delay,disk_full"])
    assert result.exit_code == 2
    assert "--synthetic-faults" in result.output and "disk_full" in result.output


def test_extra_training_folders_train_every_split_and_the_checkpoint_but_are_never_scored(synthetic, monkeypatch,
                                                                                          tmp_path, isolated_cache):
    from engine.evaluation import protocol
    from engine.provenance import read_manifest
    from engine.tamo import model
    from engine.tamo.model import TrainConfig

    quick = TrainConfig(t1_steps=5, t2_steps=20, t3_steps=5, t3_members=1, members=1)
    monkeypatch.setattr(protocol, "TrainConfig", lambda: quick)
    scored, extra = (str(folder) for folder in synthetic)
    result = CliRunner().invoke(app, ["eval", "rca", "--dataset", scored, "--protocol", "kfold", "--folds", "3",
                                      "--extra-train", extra, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["tamo"].startswith("trained per split (out of fold) + ")
    assert report["extra_train"] == [str(Path(extra).resolve())]
    assert {r["method"]: r for r in report["table"] if r["system"] == "all"}["TAMO T2 alone"]["cases"] == 12
    refused = CliRunner().invoke(app, ["eval", "rca", "--dataset", scored, "--protocol", "kfold", "--extra-train",
                                       scored])
    assert refused.exit_code == 2 and "never join a test side" in refused.output

    monkeypatch.setattr(model, "TrainConfig", lambda seed=0, members=1: quick)
    checkpoint = tmp_path / "tamo.pt"
    trained = CliRunner().invoke(app, ["tamo", "train", "--dataset", scored, "--extra-train", extra, "--out",
                                       str(checkpoint), "--json"])
    assert trained.exit_code == 0, trained.output
    manifest = read_manifest(checkpoint)
    (recorded,) = manifest.extra_train
    assert recorded["made_by"].startswith("Made by `rca-tui synth`") and recorded["cases"]
    assert len(manifest.trained_on) == 12  # the scored folder's cases; the extra ones apart (their ids recur)
    assert json.loads(trained.stdout)["extra_train_cases"] == len(recorded["cases"])


def test_fault_type_refuses_a_synthetic_weight_it_cannot_read_naming_the_option(tmp_path):
    for bad in ("heavy", "0", "1.5"):
        result = CliRunner().invoke(app, ["eval", "fault-type", "--dataset", str(tmp_path), "--synthetic-weight", bad])
        assert result.exit_code == 2 and "--synthetic-weight" in result.output and "Traceback" not in result.output


def test_consensus_fault_type_comes_from_a_classifier_that_never_trained_on_the_case(synthetic, monkeypatch,
                                                                                     isolated_cache):
    from engine.tamo import api
    from engine.tamo.fault_kind import load_classifier

    trained_on_when_asked, asked_at = {}, {}
    ask = api.fault_kind

    def recording(incident, entity, path=None, signals=None):
        trained_on_when_asked[incident.case_id] = set(load_classifier(path).trained_on)
        asked_at[incident.case_id] = entity
        return ask(incident, entity, path, signals)

    monkeypatch.setattr(api, "fault_kind", recording)
    result = _eval("--dataset", str(synthetic[0]), "--protocol", "kfold", "--folds", "3", "--agents")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)["consensus_fault_type"]["kfold"]
    assert scores["cases"] == scores["named"] == 12 and set(scores["confusion"])
    assert len(trained_on_when_asked) == 12
    for case_id, trained_on in trained_on_when_asked.items():
        assert case_id not in trained_on and len(trained_on) == 8, case_id  # the other two folds' cases
    # one row per held-out case: the agreed root (where the type was asked) and the type, beside the label
    rows = json.loads(result.stdout)["consensus_cases"]["kfold"]
    assert {row["case_id"]: row["root_cause"] for row in rows} == asked_at
    assert {row["split"] for row in rows} == {"fold 1/3", "fold 2/3", "fold 3/3"}
    right = sum(row["predicted_fault_type"] == row["fault_type"] for row in rows)
    assert right / len(rows) == pytest.approx(scores["accuracy"], abs=1e-4)


def test_fault_type_synthetic_cases_train_every_splits_fault_kind_classifier_at_per_type_weights(
        synthetic, monkeypatch, isolated_cache):
    from engine.evaluation import fault_type

    fits = []
    fit = fault_type.fit_classifier

    def recording(rows, labels, case_ids, weights=None):
        fits.append((list(labels), list(weights)))
        return fit(rows, labels, case_ids, weights)

    monkeypatch.setattr(fault_type, "fit_classifier", recording)
    scored, extra = synthetic
    result = _eval("--dataset", str(scored), "--protocol", "kfold", "--folds", "3", "--agents",
                   "--fault-type-synthetic", str(extra), "--synthetic-weight", "type")
    assert result.exit_code == 0, result.output
    recorded = json.loads(result.stdout)["fault_kind_synthetic"]
    assert recorded["folders"] == [str(extra.resolve())] and recorded["synthetic_weight"] == "type"
    synthetic_cases = sum(recorded["cases"].values())
    assert synthetic_cases and len(fits) == 3  # one classifier per split
    for labels, weights in fits:
        real = len(labels) - synthetic_cases
        assert real == 8 and weights[:real] == [1.0] * real  # the split's own training cases, at full weight
        per_type: dict[str, float] = {}
        for label, weight in zip(labels[real:], weights[real:]):
            per_type[label] = per_type.get(label, 0.0) + weight
        assert per_type and all(total == pytest.approx(1.0) for total in per_type.values())


@pytest.mark.parametrize("args, named", [
    (["--protocol", "kfold", "--fault-type-synthetic", "{extra}"], "--agents"),
    (["--fault-type-synthetic", "{extra}"], "--protocol"),
    (["--synthetic-weight", "type"], "--protocol"),
    (["--protocol", "kfold", "--agents", "--fault-type-synthetic", "{missing}"], "--fault-type-synthetic {missing}"),
    (["--protocol", "kfold", "--agents", "--fault-type-synthetic", "{extra}", "--synthetic-faults", "disk_full"],
     "--synthetic-faults: unknown fault type 'disk_full'"),
])
def test_fault_type_synthetic_options_are_refused_where_no_classifier_is_fitted_or_the_input_is_bad(
        synthetic, tmp_path, args, named):
    paths = {"extra": str(synthetic[1]), "missing": str(tmp_path / "absent")}
    result = _eval("--dataset", str(synthetic[0]), *(arg.format(**paths) for arg in args))
    assert result.exit_code == 2, result.output
    assert named.format(**paths) in result.output and "Traceback" not in result.output


def test_stacker_synthetic_cases_join_every_split_and_the_saved_stackers_manifest(synthetic, tmp_path,
                                                                                 isolated_cache):
    scored, extra = (str(folder) for folder in synthetic)
    stacker = tmp_path / "stacker.json"
    result = _eval("--dataset", scored, "--protocol", "kfold", "--folds", "3", "--stacker-synthetic", extra,
                   "--save-stacker", str(stacker))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stacker_synthetic"] == [str(Path(extra).resolve())]
    manifest = json.loads(Path(str(stacker) + ".manifest.json").read_text())
    (recorded,) = manifest["extra_train"]
    assert recorded["folder"] == str(Path(extra).resolve())
    assert recorded["made_by"].startswith("Made by `rca-tui synth`")
    assert recorded["cases"] and "stacked ranker" in recorded["joins"]
    assert len(manifest["trained_on"]) == 12 and json.loads(stacker.read_text())["trained_on"] == manifest["trained_on"]
    refused = _eval("--dataset", scored, "--protocol", "kfold", "--stacker-synthetic", scored)
    assert refused.exit_code == 2 and "--stacker-synthetic" in refused.output and "Traceback" not in refused.output
    alone = CliRunner().invoke(app, ["eval", "rca", "--dataset", scored, "--stacker-synthetic", extra])
    assert alone.exit_code == 2 and "--stacker-synthetic" in alone.output


def test_each_synthetic_seed_makes_its_recipe_folder_and_the_stacker_fits_on_all(tmp_path, isolated_cache):
    if not PETSHOP.is_dir():
        pytest.skip(f"dataset folder {PETSHOP} is absent")
    stacker = tmp_path / "stacker.json"
    result = _eval("--dataset", str(PETSHOP), "--protocol", "kfold", "--folds", "3", "--synthetic-seed", "4",
                   "--synthetic-seed", "5", "--save-stacker", str(stacker))
    assert result.exit_code == 0, result.output
    folders = list(map(Path, json.loads(result.stdout)["stacker_synthetic"]))
    assert [f.parent for f in folders] == [(isolated_cache / "synth").resolve()] * 2
    assert ["-s4-" in folders[0].name, "-s5-" in folders[1].name] == [True, True]
    recorded = json.loads(Path(str(stacker) + ".manifest.json").read_text())["extra_train"]
    assert ["with seed 4" in recorded[0]["made_by"], "with seed 5" in recorded[1]["made_by"]] == [True, True]
    assert all(r["cases"] for r in recorded)
    alone = CliRunner().invoke(app, ["eval", "rca", "--dataset", str(PETSHOP), "--synthetic-seed", "4"])
    assert alone.exit_code == 2 and "--synthetic-seed" in alone.output and "Traceback" not in alone.output
