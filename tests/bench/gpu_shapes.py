"""Attribution latency where the white-box model runs (RCA_TUI_DEVICE), for models of the bundled SLM's shape and
bigger ones: random weights in the named shapes with the bundled model's tokenizer, so the passes cost what the
real models' would (what they compute is meaningless: latency only). For a machine with a GPU, where no bigger
model can be fetched:

    python -m tests.bench.gpu_shapes --tokenizer DIR --data ../shared/datasets/who_when --n 6 [--shapes 135m,1.7b]

DIR holds the converted SmolLM2's tokenizer files (`$RCA_TUI_CACHE/models/smollm2-135m`). Prints one JSON object
per shape: `engine.attribution.bench.run_benchmark`'s figures and the device.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

# Published SmolLM2 shapes (config.json of each size): hidden, layers, attention heads, key-value heads, MLP width.
SHAPES = {
    "135m": (576, 30, 9, 3, 1536),
    "360m": (960, 32, 15, 5, 2560),
    "1.7b": (2048, 24, 32, 32, 8192),
}


def random_model(shape: str, tokenizer_dir: Path, folder: Path) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    hidden, layers, heads, kv_heads, mlp = SHAPES[shape]
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers,
                         num_attention_heads=heads, num_key_value_heads=kv_heads, intermediate_size=mlp,
                         max_position_embeddings=8192, tie_word_embeddings=True)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--n", type=int, default=6)
    parser.add_argument("--shapes", default=",".join(SHAPES))
    args = parser.parse_args()

    from engine.attribution.adapters import load_trajectories
    from engine.attribution.bench import run_benchmark, spread
    from engine.attribution.slm import load_model, model_device

    trajectories = spread(load_trajectories(args.data, "all"), args.n)
    for shape in args.shapes.split(","):
        folder = Path(tempfile.mkdtemp(prefix=f"shape-{shape}-"))
        try:
            figures = run_benchmark(trajectories, str(random_model(shape, args.tokenizer, folder)))
            print(json.dumps({"shape": shape, "device": model_device(), **figures, "model": f"random {shape}"}),
                  flush=True)
        finally:
            load_model.cache_clear()
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
