"""TAMO per fold: every case is scored by a model that never saw it, and a fold trained once is read back from the
cache (the same scores, nothing retrained) until its cases, their feature tensors, the config or the training code
change."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from engine.evaluation import tamo as oof
from engine.evaluation.tamo import (ExtraTraining, cross_validate, extra_training, fold_checkpoint,
                                   protocol_folds)
from engine.tamo.ensemble import load_checkpoint


@pytest.mark.parametrize("protocol", ["kfold", "cross-system", "leave-fault-type-out"])
def test_no_case_is_scored_by_a_model_trained_on_it(synthetic_cases, protocol):
    for i, case in enumerate(synthetic_cases):
        case.features.system = "AB"[i % 2]
    folds = protocol_folds(synthetic_cases, protocol, 4)
    assert sorted(c.features.case_id for f in folds for c in f.test) == sorted(
        c.features.case_id for c in synthetic_cases)
    for fold in folds:
        assert not {c.features.case_id for c in fold.train} & {c.features.case_id for c in fold.test}


def test_a_fold_is_trained_once_then_read_back_until_its_training_set_changes(synthetic_cases, quick_config,
                                                                              tmp_path, monkeypatch):
    folds = protocol_folds(synthetic_cases, "kfold", 2, source="syn")
    first = cross_validate(folds, quick_config, cache_dir=tmp_path)
    trained = []
    monkeypatch.setattr(oof, "train_model", lambda *a, **k: trained.append(a) or pytest.fail("retrained"))
    again = cross_validate(folds, quick_config, cache_dir=tmp_path)
    assert [(c.features.case_id, i.ranking, i.fault_types) for c, i in again] == \
           [(c.features.case_id, [tuple(p) for p in i.ranking], i.fault_types) for c, i in first]
    stored = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert set(stored["train"]).isdisjoint(stored["inferences"])
    assert fold_checkpoint(tmp_path, folds[0], quick_config) is not None
    assert fold_checkpoint(tmp_path, replace(folds[0], source="other folder"), quick_config) is None
    with pytest.raises(pytest.fail.Exception, match="retrained"):
        cross_validate(folds, replace(quick_config, seed=4), cache_dir=tmp_path)


def test_extra_training_cases_join_every_training_side_never_a_test_side_and_key_the_cache(
        synthetic_cases, quick_config, tmp_path, monkeypatch):
    real, synthetic = synthetic_cases[:8], synthetic_cases[8:]
    extra = ExtraTraining({"/data/synth-seed-3": synthetic})
    trained_on = []
    real_train = oof.train_model
    monkeypatch.setattr(oof, "train_model", lambda cases, *a: trained_on.append(
        {c.features.case_id for c in cases}) or real_train(cases, *a))
    folds = protocol_folds(real, "kfold", 2, source="real", extra=extra)
    cross_validate(folds, quick_config, cache_dir=tmp_path)
    synthetic_ids = {c.features.case_id for c in synthetic}
    assert all(synthetic_ids <= ids for ids in trained_on) and len(trained_on) == 2
    assert not synthetic_ids & {c.features.case_id for f in folds for c in f.test}
    assert fold_checkpoint(tmp_path, folds[0], quick_config) is not None
    # not the model without extras
    assert fold_checkpoint(tmp_path, replace(folds[0], extra=ExtraTraining()), quick_config) is None
    other_seed = ExtraTraining({"/data/synth-seed-4": synthetic})  # same case ids, another folder
    assert fold_checkpoint(tmp_path, replace(folds[0], extra=other_seed), quick_config) is None


def test_a_fold_is_kept_across_edits_that_leave_its_inputs_and_training_code_alone(
        synthetic_cases, quick_config, tmp_path, monkeypatch):
    edited = set()  # engine source files "edited" since the fold was trained, as code_version would see them
    monkeypatch.setattr(oof, "code_version", lambda *modules: str(sorted(
        path for path in edited if any(path == m or path.startswith(f"{m}/") for m in modules))))
    folds = protocol_folds(synthetic_cases, "kfold", 2, source="syn")
    cross_validate(folds, quick_config, cache_dir=tmp_path)
    edited |= {"tamo/traces.py", "telemetry/spans.py"}  # a refactor of the feature extraction: same tensors
    assert all(fold_checkpoint(tmp_path, fold, quick_config) for fold in folds)
    edited.add("tamo/t2_causal.py")  # the model's own code
    assert not any(fold_checkpoint(tmp_path, fold, quick_config) for fold in folds)


@pytest.mark.parametrize("side", ["train", "test"])
def test_a_changed_feature_tensor_retrains_its_fold_only(synthetic_cases, quick_config, tmp_path, monkeypatch, side):
    folds = protocol_folds(synthetic_cases, "kfold", 2, source="syn")
    cross_validate(folds, quick_config, cache_dir=tmp_path)
    cases = getattr(folds[0], side)
    changed = replace(cases[0], features=replace(cases[0].features, prior=cases[0].features.prior + 0.01))
    folds[0] = replace(folds[0], **{side: [changed, *cases[1:]]})
    trained = []
    real_train = oof.train_model
    monkeypatch.setattr(oof, "train_model", lambda cases, *a: trained.append(cases) or real_train(cases, *a))
    cross_validate(folds, quick_config, cache_dir=tmp_path)
    assert [[c.features.case_id for c in cases] for cases in trained] == [[c.features.case_id for c in folds[0].train]]


def test_an_extra_training_folder_that_is_also_scored_is_refused(tmp_path):
    with pytest.raises(ValueError, match="never join a test side"):
        extra_training([tmp_path / "." / "x" / ".."], [tmp_path])


def test_each_member_of_an_ensemble_is_cached_alone_so_a_larger_ensemble_trains_only_its_new_members(
        synthetic_cases, quick_config, tmp_path, monkeypatch):
    folds = protocol_folds(synthetic_cases, "kfold", 2, source="syn")
    single = cross_validate(folds, quick_config, cache_dir=tmp_path)
    seeds = []
    real_train = oof.train_model
    monkeypatch.setattr(oof, "train_model", lambda cases, config, *a: seeds.append(config.seed) or real_train(
        cases, config, *a))
    pair = replace(quick_config, members=2)
    both = cross_validate(folds, pair, cache_dir=tmp_path)
    assert seeds == [quick_config.seed + 1] * 2  # each fold's second member; the first is read back
    assert [case.features.case_id for case, _ in both] == [case.features.case_id for case, _ in single]
    assert any(alone.ranking != mean.ranking for (_, alone), (_, mean) in zip(single, both))
    assert len(load_checkpoint(fold_checkpoint(tmp_path, folds[0], pair)).members) == 2
