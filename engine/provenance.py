"""Every trained artefact carries a manifest beside it: the command that made it, the seed, the data folder and
exactly which cases (or trajectories) it was fitted on, so a figure on one of those cases is flagged in-sample.

The manifest is `<artefact>.manifest.json`, readable without torch; `sha256` ties it to the artefact's bytes.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

MANIFEST_SUFFIX = ".manifest.json"


class ManifestError(ValueError):
    """A manifest that cannot be read: the message names the file and the field."""


@dataclass(frozen=True)
class Manifest:
    artefact: str
    sha256: str
    command: str
    seed: int | None
    data: str
    trained_on: tuple[str, ...]
    systems: tuple[str, ...] = ()  # the systems of those cases: where the artefact may be used by default
    # other folders it was also fitted on (synthetic incidents): folder, how it was made, its case ids. Their ids are
    # not in `trained_on`: another synthetic folder reuses them for other cases
    extra_train: tuple[dict, ...] = ()

    def to_dict(self) -> dict:
        return {**asdict(self), "trained_on": list(self.trained_on), "systems": list(self.systems),
                "extra_train": list(self.extra_train)}


def manifest_path(artefact: Path) -> Path:
    return Path(str(artefact) + MANIFEST_SUFFIX)


def write_manifest(artefact: Path, command: str, seed: int | None, data: str, trained_on: list[str],
                   systems: list[str] | tuple[str, ...] = (),
                   extra_train: list[dict] | tuple[dict, ...] = ()) -> Manifest:
    artefact = Path(artefact)
    manifest = Manifest(artefact.name, file_sha256(artefact), command, seed, data, tuple(trained_on),
                        tuple(sorted(set(systems))), tuple(extra_train))
    manifest_path(artefact).write_text(json.dumps(manifest.to_dict(), indent=1) + "\n", encoding="utf-8")
    return manifest


def read_manifest(artefact: Path) -> Manifest | None:
    """The artefact's manifest, or None when it has none."""
    path = manifest_path(artefact)
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Manifest(str(raw["artefact"]), str(raw["sha256"]), str(raw["command"]), raw["seed"],
                        str(raw["data"]), tuple(str(case) for case in raw["trained_on"]),
                        tuple(str(system) for system in raw.get("systems", [])),
                        tuple(dict(extra) for extra in raw.get("extra_train", [])))
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ManifestError(f"{path}: not a manifest ({type(exc).__name__}: {exc}); expected the keys artefact, "
                            "sha256, command, seed, data, trained_on") from exc


def in_sample_warning(artefact: Path, case_id: str, what: str) -> str | None:
    """A warning when `case_id` is among the cases `artefact` was fitted on (or when that cannot be told)."""
    artefact = Path(artefact)
    manifest = read_manifest(artefact)
    if manifest is None:
        return f"{what} {artefact} has no manifest: cannot tell whether it was trained on {case_id}"
    if manifest.sha256 != file_sha256(artefact):
        return f"{what} {artefact} differs from its manifest: cannot tell whether it was trained on {case_id}"
    if case_id in manifest.trained_on:
        return f"{what} {artefact.name} was trained on this case ({case_id}): its output here is in-sample"
    return None


def in_sample_cases(artefact: Path, case_ids: list[str]) -> list[str]:
    """Which of `case_ids` the artefact was fitted on (empty without a manifest)."""
    manifest = read_manifest(Path(artefact))
    return [case for case in case_ids if manifest and case in manifest.trained_on]


def covers(artefact: Path, system: str) -> bool:
    """Whether the artefact's manifest says it was fitted on cases of `system`."""
    manifest = read_manifest(Path(artefact))
    return bool(manifest and system in manifest.systems)


def file_sha256(path: Path) -> str:
    """The file's sha256, read once per (path, modification time, size) in a process: a run or an evaluation
    checks its artefacts' manifests on every case without hashing them again."""
    stat = Path(path).stat()
    return _file_sha256(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=32)
def _file_sha256(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@lru_cache(maxsize=8)
def code_version(*packages: str) -> str:
    """A hash of the engine's source files in `packages` (e.g. "tamo", "telemetry", or one module's file such as
    "evaluation/injection_runs.py"): caches keyed by it are never read back by code that would compute something else."""
    engine = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(p for package in packages for p in _sources(engine.joinpath(package))):
        digest.update(path.relative_to(engine).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _sources(path: Path) -> list[Path]:
    return [path] if path.is_file() else list(path.rglob("*.py"))
