from __future__ import annotations

import math
from dataclasses import replace

import torch

from engine.tamo.batch import make_batch
from engine.tamo.ensemble import load_checkpoint, train_ensemble
from engine.tamo.model import TrainConfig, single_thread, train_model
from engine.tamo.t1_fusion import DualBranchDiffusion


def _losses(module, loss_fn, steps: int = 40) -> list[float]:
    optimiser = torch.optim.Adam(module.parameters(), lr=1e-2)
    losses = []
    with single_thread():
        for _ in range(steps):
            losses.append(_step(optimiser, loss_fn))
    return losses


def _step(optimiser, loss_fn) -> float:
    optimiser.zero_grad()
    loss = loss_fn()
    loss.backward()
    optimiser.step()
    return float(loss.detach())


def test_t1_diffusion_loss_falls(synthetic_cases):
    torch.manual_seed(0)
    batch = make_batch([case.features for case in synthetic_cases])
    t1 = DualBranchDiffusion(batch.series.shape[-1], batch.semantics.shape[-1])
    losses = _losses(t1, lambda: t1.loss(batch.series, batch.semantics, batch.mask.float()))
    assert sum(losses[-5:]) / 5 < 0.85 * sum(losses[:5]) / 5


def test_t1_fused_series_is_deterministic_and_shaped(synthetic_cases):
    batch = make_batch([case.features for case in synthetic_cases[:2]])
    t1 = DualBranchDiffusion(batch.series.shape[-1], batch.semantics.shape[-1])
    first, second = t1.fused(batch.series, batch.semantics), t1.fused(batch.series, batch.semantics)
    assert first.shape == (*batch.series.shape[:3], t1.fused_dim)
    assert torch.equal(first, second)


def test_trained_model_finds_the_root_and_the_fault_type(synthetic_cases, quick_config):
    train, test = synthetic_cases[:12], synthetic_cases[12:]
    model = train_model(train, quick_config)
    hits = [model.infer(case.features).ranking[0][0] == case.root_cause for case in test]
    types = [max((r := model.infer(case.features).fault_types), key=r.get) == case.fault_type for case in test]
    assert sum(hits) >= 3 and sum(types) >= 3


def test_training_is_deterministic_for_a_seed(synthetic_cases, quick_config):
    cases = synthetic_cases[:6]
    a, b = train_model(cases, quick_config), train_model(cases, quick_config)
    c = train_model(cases, TrainConfig(**{**quick_config.__dict__, "seed": 4}))
    state_a, state_b, state_c = a.t2.state_dict(), b.t2.state_dict(), c.t2.state_dict()
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert not all(torch.equal(state_a[k], state_c[k]) for k in state_a)


def test_progress_reports_every_stage_and_t2_t3_losses_fall(synthetic_cases, quick_config):
    seen = []
    train_model(synthetic_cases[:8], quick_config, lambda done, total, what: seen.append((done, total, what)))
    c = quick_config
    assert seen[-1][0] == seen[-1][1] == c.t1_steps + c.t2_steps + c.t3_members * c.t3_steps == 340
    losses: dict[str, list[float]] = {}
    for _, _, what in seen:
        stage, _, value = what.partition(" loss ")
        losses.setdefault(stage, []).append(float(value))
    assert set(losses) == {"T1 diffusion", "T2 ranking", "T3 fault type"}
    # untrained: cross-entropy over 6 entities ~ ln 6; binary cross-entropy per class ~ ln 2
    assert sum(losses["T2 ranking"][-3:]) / 3 < 0.5 * math.log(6)
    assert sum(losses["T3 fault type"][-3:]) / 3 < 0.5 * math.log(2)


def test_checkpoint_round_trip_keeps_config_cases_and_outputs(synthetic_cases, quick_config, tmp_path):
    model = train_model(synthetic_cases[:8], quick_config)
    loaded = load_checkpoint(model.save(tmp_path / "tamo.pt"))  # a file of one model: an ensemble of one
    assert loaded.config == model.config and len(loaded.members) == 1
    assert loaded.trained_on == [case.features.case_id for case in synthetic_cases[:8]]
    assert loaded.fault_types == ["cpu", "delay"]
    case = synthetic_cases[9].features
    before, after = model.infer(case), loaded.infer(case)
    assert before.ranking == after.ranking and before.fault_types == after.fault_types


def test_checkpoint_from_other_feature_code_is_refused(synthetic_cases, quick_config, tmp_path):
    path = train_model(synthetic_cases[:4], quick_config).save(tmp_path / "tamo.pt")
    state = torch.load(path, weights_only=True)
    state["channels"] = state["channels"][:-1]
    torch.save(state, path)
    try:
        load_checkpoint(path)
    except ValueError as exc:
        assert "retrain" in str(exc)
    else:
        raise AssertionError("a checkpoint with other channels loaded")


def test_an_ensemble_averages_members_trained_from_consecutive_seeds(synthetic_cases, quick_config, tmp_path):
    ensemble = train_ensemble(synthetic_cases[:8], replace(quick_config, members=2))
    assert [member.config.seed for member in ensemble.members] == [3, 4] and ensemble.config.members == 2
    case = synthetic_cases[9].features
    first, second = (dict(member.infer(case).ranking) for member in ensemble.members)
    assert first != second  # two draws
    mean = dict(ensemble.infer(case).ranking)
    assert all(abs(mean[entity] - (first[entity] + second[entity]) / 2) < 1e-3 for entity in mean)
    loaded = load_checkpoint(ensemble.save(tmp_path / "tamo.pt"))
    assert len(loaded.members) == 2 and loaded.infer(case).ranking == ensemble.infer(case).ranking


def test_a_file_that_holds_no_checkpoint_is_refused_naming_it(tmp_path):
    text, numbers = tmp_path / "notes.pt", tmp_path / "numbers.pt"
    text.write_text("not a model")
    torch.save([1, 2, 3], numbers)
    for path in (text, numbers):
        try:
            load_checkpoint(path)
        except ValueError as exc:
            assert str(path) in str(exc) and "not a TAMO checkpoint" in str(exc)
        else:
            raise AssertionError(f"{path.name} loaded as a checkpoint")
