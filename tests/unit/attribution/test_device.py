"""Where the white-box model runs (RCA_TUI_DEVICE): the CPU by default here, a CUDA GPU when asked and present,
with the same features and counterfactual effects either way."""
from __future__ import annotations

import copy
import re

import numpy as np
import pytest
import torch

from engine.attribution.counterfactual import CounterfactualConfig, compute_effects
from engine.attribution.features import compute_features
from engine.attribution.layout import FeatureConfig
from engine.attribution.slm import ModelUnavailableError, load_model, model_device
from tests.unit.attribution.test_adapters import ALGORITHM_GENERATED
from tests.unit.attribution.test_export_cli import run
from tests.unit.attribution.test_held_out_cli import write_folder

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture
def device_env(monkeypatch):
    """Set RCA_TUI_DEVICE for one test; models loaded under it are forgotten afterwards."""
    load_model.cache_clear()
    yield lambda value: monkeypatch.setenv("RCA_TUI_DEVICE", value)
    load_model.cache_clear()


def test_auto_runs_on_the_cpu_when_torch_sees_no_gpu(device_env, tiny_model_dir, monkeypatch):
    device_env("auto")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    model, _ = load_model(str(tiny_model_dir))
    assert model_device() == "cpu" and model.device.type == "cpu"


@pytest.mark.parametrize("value, expected", [("tpu", "expected auto, cpu, cuda or cuda:N"),
                                             ("cuda:x", "expected auto, cpu, cuda or cuda:N"),
                                             ("cuda:99", "CUDA device(s) here")])
def test_a_device_that_cannot_be_used_is_named_before_any_model_loads(device_env, tiny_model_dir, value,
                                                                      expected):
    device_env(value)
    with pytest.raises(ModelUnavailableError, match=re.escape(expected)) as raised:
        load_model(str(tiny_model_dir))
    assert f"RCA_TUI_DEVICE={value!r}" in str(raised.value)


@needs_cuda
def test_the_gpu_gives_the_cpus_features_and_claim_effects(device_env, tiny_model_dir, small_trajectory):
    device_env("cpu")
    cpu_model, tokenizer = load_model(str(tiny_model_dir))
    gpu_model = copy.deepcopy(cpu_model).to("cuda")
    config = FeatureConfig()
    on_cpu = compute_features(small_trajectory, cpu_model, tokenizer, config)
    on_gpu = compute_features(small_trajectory, gpu_model, tokenizer, config)
    assert np.array_equal(on_cpu.kept, on_gpu.kept)
    for name in ("attention", "embeddings", "nll_mean", "nll_max"):
        assert np.allclose(getattr(on_cpu, name), getattr(on_gpu, name), atol=1e-4), name
    effects = [compute_effects(small_trajectory, [1, 4], 5, model, tokenizer, CounterfactualConfig(gradient=True))
               for model in (cpu_model, gpu_model)]
    assert np.allclose(effects[0].mask_delta, effects[1].mask_delta, atol=1e-4)
    assert np.allclose(effects[0].grad_input, effects[1].grad_input, atol=1e-4)


@needs_cuda
def test_cuda_puts_the_model_on_the_gpu(device_env, tiny_model_dir):
    device_env("cuda")
    model, _ = load_model(str(tiny_model_dir))
    assert model.device.type == "cuda"


def test_eval_attribution_names_an_unusable_device_without_a_traceback(device_env, tiny_model_dir, tmp_path):
    data = write_folder(tmp_path, "data", ALGORITHM_GENERATED, 2, "ag")
    device_env("tpu")
    result = run("eval-attribution", "--train", str(data), "--test", str(data), "--model", str(tiny_model_dir),
                 "--no-ablations", "--json")
    assert result.exit_code == 3
    assert "RCA_TUI_DEVICE='tpu': expected auto, cpu, cuda or cuda:N" in result.output
    assert "Traceback" not in result.output and result.stdout == ""
