"""Cross-validated scores: every case is scored by a TAMO model that never saw it (k folds over cases, leave one
system out, leave one fault type out; the folds of :mod:`engine.evaluation.splits`).

Each fold's model (each member of the ensemble, engine.tamo.ensemble, on its own) and its inferences on the held-out
cases are cached on disk (`$RCA_TUI_CACHE/tamo-oof`), keyed by what training consumes: the training and test cases
(dataset + case ids, the folders of any extra training cases, and a hash of every one of those cases' feature
tensors and labels), the training config, and the code of the modules that train and run the model
(`TRAINING_CODE`). So `tamo eval` and `eval rca --protocol` train each fold once, later runs read the out-of-fold
scores back, a refactor elsewhere that leaves the features identical keeps the folds, and a changed feature
extractor (other tensors) or training code retrains them. Extra training cases (:class:`ExtraTraining`, e.g.
synthetic incidents of fault types a system lacks) join every fold's training side and never its test side.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from engine.evaluation.metrics import ac_at_k, accuracy, avg_at_k, confusion_matrix, macro_f1
from engine.evaluation.splits import CaseKey, held_out_splits
from engine.parallel import ordered_map, write_atomically
from engine.provenance import code_version
from engine.tamo.dataset import LabelledCase, Progress as FeatureProgress, dataset_features
from engine.tamo.features import CHANNELS, MODALITY_OF_CHANNEL, PRIOR_SIGNALS
from engine.tamo.ensemble import TamoEnsemble, average_inferences, load_checkpoint, member_configs
from engine.tamo.model import TRAINING_CODE, Inference, Progress, TrainConfig, train_model
from engine.tamo.signatures import SIGNATURE_MODALITY, SIGNATURES

SCHEMES = {"kfold": "kfold", "loso": "cross-system", "lfto": "leave-fault-type-out"}  # tamo eval --scheme


def case_key(case: LabelledCase) -> CaseKey:
    return CaseKey(case.features.case_id, case.features.system, case.fault_type or "?")


@dataclass
class ExtraTraining:
    """Labelled cases of other folders (e.g. synthetic incidents of fault types a system lacks) that every fold
    trains on besides its own training cases, and never scores."""
    by_folder: dict[str, list[LabelledCase]] = field(default_factory=dict)

    @property
    def folders(self) -> tuple[str, ...]:
        return tuple(self.by_folder)

    @property
    def cases(self) -> list[LabelledCase]:
        return [case for cases in self.by_folder.values() for case in cases]

    def cache_key(self) -> list:
        return [[folder, sorted(case.features.case_id for case in cases)] for folder, cases in self.by_folder.items()]

    def manifest(self) -> list[dict]:
        """What a trained artefact's manifest records of them: each folder, how it was made, its case ids."""
        from engine.synth.provenance import how_made

        return [{"folder": folder, "made_by": how_made(Path(folder)),
                 "cases": sorted(case.features.case_id for case in cases)} for folder, cases in self.by_folder.items()]


def extra_training(folders: Sequence[Path], scored: Sequence[Path], on_progress: FeatureProgress | None = None,
                   workers: int = 1, scheduler: str | None = None) -> ExtraTraining:
    """Every labelled case of `folders` (their features read once), refused when a folder is also `scored`."""
    resolved = [Path(folder).resolve() for folder in folders]
    clash = sorted(str(folder) for folder in set(resolved) & {Path(s).resolve() for s in scored})
    if clash:
        raise ValueError(f"--extra-train {', '.join(clash)}: also a folder that is scored; extra training cases "
                         "never join a test side")
    return ExtraTraining({str(folder): dataset_features(folder, on_progress, workers=workers, scheduler=scheduler)
                          for folder in dict.fromkeys(resolved)})


@dataclass
class Fold:
    """Train on `train` (+ `extra`), score `test`; `source` names the folder(s) the cases come from (part of the cache
    key, as are the extra cases' folders)."""
    name: str
    train: list[LabelledCase]
    test: list[LabelledCase]
    source: str = ""
    extra: ExtraTraining = field(default_factory=ExtraTraining)


def protocol_folds(cases: list[LabelledCase], protocol: str, k: int = 5, source: str = "",
                   extra: ExtraTraining | None = None) -> list[Fold]:
    by_id = {case.features.case_id: case for case in cases}
    return [Fold(split.name, [by_id[c] for c in split.train], [by_id[c] for c in split.test], source,
                 extra or ExtraTraining())
            for split in held_out_splits([case_key(c) for c in cases], protocol, k)]


def cross_validate(folds: list[Fold], config: TrainConfig, on_progress: Progress | None = None,
                   cache_dir: Path | None = None, workers: int = 1,
                   scheduler: str | None = None) -> list[tuple[LabelledCase, Inference]]:
    """(case, inference of a model not trained on it) for every test case of every fold: the mean of the config's
    ensemble members (engine.tamo.ensemble), each member of each fold a training job of its own. With `cache_dir`,
    a member whose training set, config and code were seen before is read back; the others are trained (in
    parallel with `workers` > 1 or a Dask `scheduler`) and cached as they finish."""
    members = member_configs(config)
    pairs = {(f, k): (fold, member) for f, fold in enumerate(folds) for k, member in enumerate(members)}
    names = {key: f"{fold.name}, seed {member.seed}" if len(members) > 1 else fold.name
             for key, (fold, member) in pairs.items()}
    cached = {key: _read_fold(cache_dir, *pair) for key, pair in pairs.items()} if cache_dir else {}
    todo = [key for key in pairs if cached.get(key) is None]
    jobs = [_FoldJob(*pairs[key], str(_fold_path(cache_dir, *pairs[key])) if cache_dir else None,
                     f"fold {n}/{len(todo)} ({names[key]})") for n, key in enumerate(todo, start=1)]
    progress = _prefixed(on_progress, "") if workers <= 1 and scheduler is None else None
    for key, inferences in zip(todo, ordered_map(_train_fold, [replace(j, progress=progress) for j in jobs],
                                                 workers, scheduler)):
        cached[key] = inferences
        if on_progress:
            on_progress(len([c for c in cached.values() if c is not None]), len(pairs), f"trained {names[key]}")
    return [(case, average_inferences([cached[(f, k)][case.features.case_id] for k in range(len(members))]))
            for f, fold in enumerate(folds) for case in fold.test]


@dataclass
class _FoldJob:
    fold: Fold
    config: TrainConfig
    path: str | None
    label: str
    progress: Progress | None = None


def _train_fold(job: _FoldJob) -> dict[str, Inference]:
    model = train_model(job.fold.train + job.fold.extra.cases, replace(job.config), _prefixed(job.progress, job.label))
    inferences = {case.features.case_id: model.infer(case.features) for case in job.fold.test}
    if job.path:
        path = Path(job.path)
        write_atomically(path.with_suffix(".pt"), model.save, ".pt.tmp")
        text = json.dumps({"train": sorted(model.trained_on), "config": asdict(job.config),
                           "inferences": {c: asdict(i) for c, i in inferences.items()}})
        write_atomically(path, lambda tmp: tmp.write_text(text), ".json.tmp")
    return inferences


def fold_checkpoint(cache_dir: Path, fold: Fold, config: TrainConfig) -> Path | None:
    """The cached ensemble trained on `fold` for scoring its test cases (by :func:`cross_validate`; its members'
    files joined into one checkpoint beside them), or None when a member was never trained."""
    paths = [_fold_path(cache_dir, fold, member).with_suffix(".pt") for member in member_configs(config)]
    if not all(path.is_file() for path in paths):
        return None
    if len(paths) == 1:
        return paths[0]
    joined = paths[0].with_name(hashlib.sha256("".join(p.name for p in paths).encode()).hexdigest()[:24] + ".pt")
    if not joined.is_file():
        ensemble = TamoEnsemble([member for path in paths for member in load_checkpoint(path).members])
        write_atomically(joined, ensemble.save, ".pt.tmp")
    return joined


def _read_fold(cache_dir: Path, fold: Fold, config: TrainConfig) -> dict[str, Inference] | None:
    path = _fold_path(cache_dir, fold, config)
    try:
        stored = json.loads(path.read_text())["inferences"]
    except (OSError, ValueError, KeyError):
        return None
    if not all(case.features.case_id in stored for case in fold.test):
        return None
    return {case_id: Inference([tuple(pair) for pair in raw["ranking"]], [tuple(e) for e in raw["causal_edges"]],
                               raw["fault_types"], raw["seconds"]) for case_id, raw in stored.items()}


def _fold_path(cache_dir: Path, fold: Fold, config: TrainConfig) -> Path:
    """The fold's cache file, keyed by what training and inference consume (see the module's docstring)."""
    parts = [_training_version(), asdict(config), fold.source,
             sorted(c.features.case_id for c in fold.train), sorted(c.features.case_id for c in fold.test),
             _inputs_digest(fold.train + fold.extra.cases), _inputs_digest(fold.test)]
    if fold.extra.folders:  # without extra cases the key has no entry for them
        parts.append(fold.extra.cache_key())
    key = json.dumps(parts, default=list)
    return Path(cache_dir) / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"


def _training_version() -> str:
    """The training modules' code and the channel layout they read (which modality each channel belongs to)."""
    layout = json.dumps([CHANNELS, MODALITY_OF_CHANNEL, PRIOR_SIGNALS, SIGNATURES, SIGNATURE_MODALITY])
    return f"{code_version(*TRAINING_CODE)}:{hashlib.sha256(layout.encode()).hexdigest()[:16]}"


def _inputs_digest(cases: list[LabelledCase]) -> str:
    """A hash of what training or inference reads of `cases` (in case-id order): labels and feature tensors."""
    digest = hashlib.sha256()
    for case in sorted(cases, key=lambda c: c.features.case_id):
        features = case.features
        digest.update(json.dumps([features.case_id, features.system, features.entities, case.root_cause,
                                  case.fault_type]).encode())
        for array in (features.series, features.semantics, features.adjacency, features.prior, features.signature):
            array = np.ascontiguousarray(array)
            digest.update(f"{array.dtype}{array.shape}".encode() + array.tobytes())
    return digest.hexdigest()


def _prefixed(on_progress: Progress | None, prefix: str) -> Progress | None:
    if on_progress is None:
        return None
    return lambda done, total, what: on_progress(done, total, f"{prefix} {what}".strip())


def rank_of(inference: Inference, truth: str) -> int:
    names = [entity for entity, _ in inference.ranking]
    return names.index(truth) if truth in names else len(names)


def ranking_scores(results: list[tuple[LabelledCase, Inference]],
                   group: Callable[[LabelledCase], str] = lambda case: case.features.system,
                   ) -> dict[str, dict[str, float]]:
    """Per system (or other `group`) and overall: AC@1, AC@3, Avg@5 (mean of AC@1..AC@5), number of cases."""
    groups = defaultdict(list)
    for case, inference in results:
        ranked = ([entity for entity, _ in inference.ranking], case.root_cause)
        groups[group(case)].append(ranked)
        groups["all"].append(ranked)
    return {name: _ranking_row(members) for name, members in sorted(groups.items())}


def system_and_fault_type(case: LabelledCase) -> str:
    return f"{case.features.system} / {case.fault_type or '?'}"


def _ranking_row(members: list[tuple[list[str], str]]) -> dict[str, float]:
    rankings, truths = [ranking for ranking, _ in members], [truth for _, truth in members]
    return {"AC@1": round(ac_at_k(rankings, truths, 1), 4), "AC@3": round(ac_at_k(rankings, truths, 3), 4),
            "Avg@5": round(avg_at_k(rankings, truths, 5), 4), "cases": len(members)}


def fault_type_scores(results: list[tuple[LabelledCase, Inference]]) -> dict:
    """Accuracy, macro-F1 over the true classes, and the confusion matrix: true type -> {guessed type: cases}."""
    truth = [case.fault_type for case, _ in results]
    guess = [max(inference.fault_types, key=inference.fault_types.get) for _, inference in results]
    return {"accuracy": round(accuracy(truth, guess), 4), "macro_f1": round(macro_f1(truth, guess), 4),
            "cases": len(truth), "confusion": confusion_matrix(truth, guess)}


ABLATIONS: dict[str, Callable[[TrainConfig], TrainConfig]] = {
    "full": lambda c: c,
    "no_t1_raw_concat": lambda c: replace(c, use_t1=False),
    "time_domain_attention": lambda c: replace(c, domain="time"),
    "metrics_only": lambda c: replace(c, modalities=("metrics",)),
    "traces_only": lambda c: replace(c, modalities=("traces",)),
    "logs_only": lambda c: replace(c, modalities=("logs",)),
}


def evaluation_report(cases: list[LabelledCase], config: TrainConfig, folds: int = 5, scheme: str = "kfold",
                      ablations: tuple[str, ...] = ("full",), on_progress: Progress | None = None,
                      cache_dir: Path | None = None, source: str = "", workers: int = 1,
                      scheduler: str | None = None, extra: ExtraTraining | None = None) -> dict:
    """Scores of each named ablation under one fold scheme (see SCHEMES); every fold also trains on `extra`."""
    split = protocol_folds(cases, SCHEMES[scheme], folds, source, extra)
    report = {"scheme": f"{len(split)}-fold over cases, stratified by system" if scheme == "kfold" else
              f"{SCHEMES[scheme]} ({len(split)} folds)", "cases": len(cases), "seed": config.seed,
              "members": config.members,
              "extra_train": {"folders": list(extra.folders), "cases": len(extra.cases)} if extra and extra.cases
              else None,
              "variants": {}}
    for name in ablations:
        results = cross_validate(split, ABLATIONS[name](config), _prefixed(on_progress, name), cache_dir, workers,
                                 scheduler)
        report["variants"][name] = {
            "ranking": ranking_scores(results),
            "fault_type": None if scheme == "lfto" else fault_type_scores(results),  # T3 never saw the held-out type
            "inference_ms_mean": round(1000 * float(np.mean([inference.seconds for _, inference in results])), 2),
            "misses": [{"case": case.features.case_id, "truth": case.root_cause, "rank": rank_of(inference, case.root_cause),
                        "top1": inference.ranking[0][0]} for case, inference in results if rank_of(inference, case.root_cause)],
        }
    return report


def checkpoint_report(cases: list[LabelledCase], model, checkpoint, fault_kind: Path | None = None) -> dict:
    """A given checkpoint scored on `cases`: the out-of-sample ones (not in its manifest) and, apart and labelled,
    the in-sample ones; the same shape as :func:`evaluation_report`. With `fault_kind`, also that saved fault-type
    classifier (the fault type the agents use, where T3 is not) at the true root causes."""
    from engine.evaluation.fault_type import saved_classifier_report
    from engine.provenance import in_sample_cases, read_manifest

    seen = set(in_sample_cases(checkpoint, [case.features.case_id for case in cases]))
    results = [(case, model.infer(case.features)) for case in cases]
    report = {"scheme": f"checkpoint {checkpoint}" + ("" if read_manifest(checkpoint) else " (no manifest: "
              "cannot tell which cases it was trained on)"), "cases": len(cases),
              "in_sample_cases": sorted(seen), "variants": {}}
    for name, members in (("out-of-sample", [r for r in results if r[0].features.case_id not in seen]),
                          ("in-sample (trained on these)", [r for r in results if r[0].features.case_id in seen])):
        if members:
            report["variants"][name] = {"ranking": ranking_scores(members), "fault_type": fault_type_scores(members),
                                        "ranking_by_fault_type": ranking_scores(members, system_and_fault_type)}
    if fault_kind is not None:
        report["fault_kind_classifier"] = saved_classifier_report(cases, fault_kind)
    return report
