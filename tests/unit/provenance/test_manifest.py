"""Trained artefacts say what they were fitted on, and a case they were fitted on is flagged in-sample."""
import json

import pytest

from engine.config import TAMO_CHECKPOINT
from engine.provenance import (
    ManifestError, in_sample_cases, in_sample_warning, manifest_path, read_manifest, write_manifest,
)


@pytest.fixture
def artefact(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"weights")
    write_manifest(path, "rca-tui tamo train --dataset d", 3, "d", ["case-a", "case-b"])
    return path


def test_a_training_case_is_flagged_and_an_unseen_one_is_not(artefact):
    warning = in_sample_warning(artefact, "case-b", "TAMO checkpoint")
    assert "case-b" in warning and "in-sample" in warning and "model.pt" in warning
    assert in_sample_warning(artefact, "case-z", "TAMO checkpoint") is None
    assert in_sample_cases(artefact, ["case-z", "case-a"]) == ["case-a"]


def test_an_artefact_changed_after_its_manifest_or_without_one_cannot_vouch_for_any_case(artefact, tmp_path):
    artefact.write_bytes(b"retrained without a manifest")
    assert "differs from its manifest" in in_sample_warning(artefact, "case-z", "TAMO checkpoint")
    bare = tmp_path / "bare.pt"
    bare.write_bytes(b"x")
    assert "has no manifest" in in_sample_warning(bare, "case-z", "TAMO checkpoint")


def test_a_broken_manifest_names_its_file(artefact):
    manifest_path(artefact).write_text(json.dumps({"artefact": "model.pt"}))
    with pytest.raises(ManifestError, match="model.pt.manifest.json"):
        read_manifest(artefact)


def test_the_shipped_tamo_checkpoint_has_a_current_manifest_naming_its_training_cases():
    manifest = read_manifest(TAMO_CHECKPOINT)
    assert manifest is not None and len(manifest.trained_on) == 60
    assert manifest.systems == ("OnlineBoutique", "TrainTicket")  # where run / eval rca use it by default
    assert in_sample_warning(TAMO_CHECKPOINT, "tt-2023-01-29-18", "TAMO checkpoint")  # the demo case
    assert "differs" not in (in_sample_warning(TAMO_CHECKPOINT, "unseen-case", "x") or "")


def test_the_shipped_stacked_ranker_was_fitted_on_out_of_fold_tamo_scores_of_the_dev_cases():
    from engine.config import DEFAULT_STACKER
    from engine.stacking.ranker import load_ranker

    manifest = read_manifest(DEFAULT_STACKER)
    ranker = load_ranker(DEFAULT_STACKER)
    assert manifest is not None and sorted(manifest.trained_on) == sorted(read_manifest(TAMO_CHECKPOINT).trained_on)
    assert "--protocol" in manifest.command and "--tamo-model" not in manifest.command  # TAMO trained per fold
    assert manifest.systems == ("OnlineBoutique", "TrainTicket") and ranker.uses_tamo
    assert "differs" not in (in_sample_warning(DEFAULT_STACKER, "unseen-case", "x") or "")


def test_the_shipped_engine_run_tracer_has_a_current_manifest():
    from engine.config import ENGINE_RUNS_TRACER

    manifest = read_manifest(ENGINE_RUNS_TRACER)
    assert manifest is not None and manifest.trained_on  # the runs it was fitted on
    assert all(entry.startswith("run-") for entry in manifest.trained_on)
    assert "data/demo" not in manifest.data  # the demo incident's runs stay out of training
    assert "differs" not in (in_sample_warning(ENGINE_RUNS_TRACER, "unseen-case", "x") or "")


def test_extra_training_folders_are_recorded_apart_so_another_folder_reusing_their_ids_is_not_in_sample(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"weights")
    extra = [{"folder": "/tmp/syn3", "made_by": "Made by `rca-tui synth` ... seed 3", "cases": ["tt-syn-000"]}]
    write_manifest(path, "rca-tui tamo train --dataset d --extra-train /tmp/syn3", 0, "d", ["case-a"], ["TT"], extra)
    manifest = read_manifest(path)
    assert manifest.extra_train == tuple(extra) and manifest.trained_on == ("case-a",)
    assert in_sample_cases(path, ["tt-syn-000", "case-a"]) == ["case-a"]
