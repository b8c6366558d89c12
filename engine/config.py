"""Every path, default and environment variable rca-tui reads: one home, read once per process.

Paths of the shipped artefacts (demo incident, TAMO checkpoint, engine-run tracer) are fixed by the checkout.
What a user may change comes from the environment, read the first time `settings()` is called:

| variable | meaning | default |
|---|---|---|
| `RCA_TUI_DB` | the SQLite file | `~/.local/share/rca-tui/rca.db` |
| `RCA_TUI_CACHE` | feature caches and converted models | `~/.cache/rca-tui` |
| `RCA_TUI_LLM_URL` / `OPENAI_BASE_URL` | OpenAI-compatible endpoint of the `openai` reasoner | none |
| `RCA_TUI_LLM_MODEL` | model name sent to that endpoint | `gpt-4o-mini` |
| `RCA_TUI_LLM_KEY` / `OPENAI_API_KEY` | bearer token for that endpoint | none |
| `RCA_TUI_KEYMAP` | TOML file remapping the console's keys by binding id (`rca-tui keys`) | `~/.config/rca-tui/keymap.toml` |
| `RCA_TUI_DEVICE` | where the white-box language model runs: `auto` (a CUDA GPU when torch sees one), `cpu`, `cuda`, `cuda:N` | `auto` |

A `--db` option always wins over `RCA_TUI_DB`; the CLI passes it explicitly.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = PROJECT_ROOT / "data"
DEMO_DIR = DATA_DIR / "demo"
TAMO_CHECKPOINT = DATA_DIR / "tamo" / "tamo-nezha.pt"
TAMO_MEMBERS = 3  # TAMOs trained from consecutive seeds and averaged (engine.tamo.ensemble)
DEFAULT_STACKER = DATA_DIR / "stacking" / "nezha-stacker.json"  # fitted on out-of-fold TAMO T2 scores
FAULT_KIND_MODEL = DATA_DIR / "tamo" / "fault-kind.json"  # the fault-type classifier the Solution Engineer asks
ENGINE_RUNS_TRACER = DATA_DIR / "attribution" / "engine-runs-tracer.npz"
THEMES_DIR = PROJECT_ROOT / "themes"

DEFAULT_DB = Path.home() / ".local" / "share" / "rca-tui" / "rca.db"
DEFAULT_CACHE = Path.home() / ".cache" / "rca-tui"
DEFAULT_LLM_MODEL = "gpt-4o-mini"
DEFAULT_KEYMAP = Path.home() / ".config" / "rca-tui" / "keymap.toml"
DEFAULT_DEVICE = "auto"

# Set before torch / transformers load. OMP_WAIT_POLICY: torch's OpenMP threads spin while they wait for work; on a
# 2-core box where another process holds one core, spinning made one SLM forward pass 6x slower (11.9 s instead of
# 2.1 s, `rca-tui eval attribution-bench`). HF_HUB_OFFLINE: nothing is ever fetched from a model hub.
RUNTIME_ENV_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE", "HF_HUB_OFFLINE": "1"}


@dataclass(frozen=True)
class Settings:
    db: Path
    cache_root: Path
    llm_url: str | None
    llm_model: str
    llm_key: str | None
    keymap: Path = DEFAULT_KEYMAP
    device: str = DEFAULT_DEVICE

    @property
    def tamo_cache(self) -> Path:
        return self.cache_root / "tamo"

    @property
    def oof_cache(self) -> Path:
        """TAMO models trained per fold and their out-of-fold scores (engine.evaluation.tamo)."""
        return self.cache_root / "tamo-oof"

    @property
    def feature_cache(self) -> Path:
        return self.cache_root / "features"

    @property
    def model_cache(self) -> Path:
        return self.cache_root / "models"


@lru_cache(maxsize=1)
def settings() -> Settings:
    env = os.environ
    return Settings(
        db=Path(env.get("RCA_TUI_DB") or DEFAULT_DB),
        cache_root=Path(env.get("RCA_TUI_CACHE") or DEFAULT_CACHE),
        llm_url=env.get("RCA_TUI_LLM_URL") or env.get("OPENAI_BASE_URL") or None,
        llm_model=env.get("RCA_TUI_LLM_MODEL") or DEFAULT_LLM_MODEL,
        llm_key=env.get("RCA_TUI_LLM_KEY") or env.get("OPENAI_API_KEY") or None,
        keymap=Path(env.get("RCA_TUI_KEYMAP") or DEFAULT_KEYMAP).expanduser(),
        device=(env.get("RCA_TUI_DEVICE") or DEFAULT_DEVICE).strip().lower(),
    )


def apply_runtime_defaults() -> None:
    """Environment defaults that native libraries read once at load time (a user's own value wins)."""
    for name, value in RUNTIME_ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
