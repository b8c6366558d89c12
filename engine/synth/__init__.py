"""Synthetic labelled incidents injected into real fault-free telemetry (`rca-tui synth`)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from engine.provenance import code_version
from engine.synth.catalog import FAULT_TYPES
from engine.synth.errors import SynthError
from engine.synth.plan import SynthOptions, SynthResult
from engine.synth.provenance import write_source_md

__all__ = ["FAULT_TYPES", "SynthError", "SynthOptions", "SynthResult", "cached_synthesis", "synthesize"]


def synthesize(source: Path, out: Path, options: SynthOptions, on_progress=lambda done, total, what: None,
               workers: int = 1, scheduler: str | None = None) -> SynthResult:
    """Writes a labelled dataset under `out` (which must not exist yet); all or nothing. With `workers` > 1 or a
    Dask `scheduler` the cases are generated in parallel (a Dask cluster must see `out`'s folder); same bytes."""
    from engine.synth.nezha import synthesize_nezha
    from engine.synth.petshop import synthesize_petshop

    if not source.is_dir():
        raise SynthError(f"{source}: no such folder; expected a Nezha (rca_data/) or PetShop (dataset/) dataset")
    if out.exists() and any(out.iterdir()):
        raise SynthError(f"{out}: already exists and is not empty; choose a new output folder")
    if (source / "rca_data").is_dir():
        writer = synthesize_nezha
    elif any((source / "dataset").glob("*/graph.csv")):
        writer = synthesize_petshop
    else:
        raise SynthError(f"{source}: not a Nezha (rca_data/) or PetShop (dataset/<scenario>/graph.csv) folder")
    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        result = writer(source, staging, options, on_progress, workers, scheduler)
        write_source_md(staging / "SOURCE.md", source, options, result)
        if out.exists():
            out.rmdir()
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def cached_synthesis(source: Path, options: SynthOptions, cache: Path,
                     on_progress=lambda done, total, what: None) -> Path:
    """The folder `synthesize` writes from `source` with `options`, kept under `cache` in a folder named by them and
    by the generator's code (a changed generator writes a new folder, so no cache keyed by a folder's path reads a
    stale one); generated only when it is not there yet."""
    recipe = [str(source.resolve()), vars(options), code_version("synth", "telemetry")]
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]
    out = cache / f"{(options.system or 'all').lower()}-s{options.seed}-{key}"
    if not out.is_dir():
        synthesize(source, out, options, on_progress)
    return out
