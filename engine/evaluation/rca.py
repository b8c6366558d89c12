"""RCA accuracy: AC@k and Avg@k over a dataset folder, per system and per fault type (`rca-tui eval rca`), and
the accuracy of the fault type named for each case where the ranking function names one (the agents: the type
the Solution Engineer's plan goes by) and the case's label has one.

AC@k and Avg@k as :mod:`engine.evaluation.metrics` defines them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial

from engine.evaluation.metrics import ac_at_k, accuracy, avg_at_k, confusion_matrix, macro_f1
from engine.parallel import ordered_map
from engine.telemetry.dataset import list_cases, load_case
from engine.telemetry.model import CaseRef, Incident

KS = (1, 2, 3, 4, 5)
# the ranking, or a mapping with the ranking ("ranking") and the fault type named for the incident ("fault_type")
RankFn = Callable[[Incident], Sequence[str] | Mapping]
NO_TYPE = "-"  # what a case whose ranking function named no fault type reads as in the confusion matrix


@dataclass
class CaseResult:
    case_id: str
    system: str
    fault_type: str
    truth: str | None
    ranking: list[str] = field(default_factory=list)
    predicted_fault_type: str | None = None
    load_seconds: float = 0.0
    rank_seconds: float = 0.0
    cpu_seconds: float = 0.0  # CPU time of the process that ran the case, loading and ranking it (all its threads)
    error: str | None = None

    @property
    def position(self) -> int | None:
        """1-based rank of the truth, None when absent or the case failed."""
        return self.ranking.index(self.truth) + 1 if self.truth in self.ranking else None

    @property
    def typed(self) -> bool:
        """Whether the label names a fault type (a case without one is left out of the fault-type figures)."""
        return self.fault_type != "?"

    @property
    def fault_type_correct(self) -> bool | None:
        """None when the label names no fault type; a case with none named (or failed) counts as wrong."""
        return self.predicted_fault_type == self.fault_type if self.typed else None


def evaluate_rca(
    dataset_dir: str,
    rank_fn: RankFn,
    on_progress: Callable[[int, int, CaseResult], None] | None = None,
    case_ids: Sequence[str] | None = None,
    workers: int = 1,
    scheduler: str | None = None,
) -> dict:
    """Load every (or every named) case, rank it, and score it. A case that fails to load or rank is
    reported with its error and counted as a miss; the run goes on. With `workers` > 1 or a Dask `scheduler`
    the cases run in parallel (`rank_fn` must then be picklable); the results are the same."""
    refs = [ref for ref in list_cases(dataset_dir) if case_ids is None or ref.case_id in case_ids]
    results = []
    cases = ordered_map(partial(_run_ref, dataset_dir, rank_fn), refs, workers, scheduler)
    for index, result in enumerate(cases, start=1):
        results.append(result)
        if on_progress is not None:
            on_progress(index, len(refs), result)
    return summarize(results)


def _run_ref(dataset_dir: str, rank_fn: RankFn, ref: CaseRef) -> CaseResult:
    return _run_case(dataset_dir, ref.case_id, ref.system, rank_fn)


def _run_case(dataset_dir: str, case_id: str, system: str, rank_fn: RankFn) -> CaseResult:
    cpu_started = time.process_time()
    result = _load_and_rank(dataset_dir, case_id, system, rank_fn)
    result.cpu_seconds = time.process_time() - cpu_started
    return result


def _load_and_rank(dataset_dir: str, case_id: str, system: str, rank_fn: RankFn) -> CaseResult:
    started = time.perf_counter()
    try:
        incident = load_case(dataset_dir, case_id)
    except Exception as exc:  # a broken case is reported, not fatal to the run
        return CaseResult(case_id, system, "?", None, error=f"load: {type(exc).__name__}: {exc}")
    loaded = time.perf_counter()
    label = incident.label
    result = CaseResult(
        case_id, incident.system, (label.fault_type or "?") if label else "?", label.root_cause if label else None
    )
    result.load_seconds = loaded - started
    try:
        ranked = rank_fn(incident)
        if isinstance(ranked, Mapping):
            result.ranking, result.predicted_fault_type = list(ranked["ranking"]), ranked.get("fault_type")
        else:
            result.ranking = list(ranked)
    except Exception as exc:
        result.error = f"rank: {type(exc).__name__}: {exc}"
    result.rank_seconds = time.perf_counter() - loaded
    return result


def summarize(results: Sequence[CaseResult]) -> dict:
    """AC@k / Avg@k per group; fault-type figures only when the ranking function named a type for some case."""
    labelled = [r for r in results if r.truth is not None or r.error]
    typing = any(r.predicted_fault_type is not None for r in results)
    groups = {"all": labelled}
    for result in labelled:
        groups.setdefault(f"system={result.system}", []).append(result)
        if result.typed:  # failed loads and unlabelled types have none
            groups.setdefault(f"system={result.system} fault={result.fault_type}", []).append(result)
    return {
        "table": [_row(name, members, typing) for name, members in sorted(groups.items(),
                                                                            key=lambda kv: kv[0] != "all")],
        "cases": [asdict(r) | {"position": r.position, "fault_type_correct": r.fault_type_correct}
                  for r in results],
        "failures": [{"case_id": r.case_id, "error": r.error} for r in results if r.error],
        "fault_type": fault_type_scores(labelled) if typing else None,
    }


def fault_type_scores(results: Sequence[CaseResult]) -> dict | None:
    """Accuracy, macro-F1 and the confusion matrix of the named fault types over the cases whose label has one
    (every such case scored: one named no type counts as wrong, NO_TYPE in the matrix); None without any."""
    return _named_type_scores([(r.fault_type, r.predicted_fault_type) for r in results if r.typed])


def case_fault_type_scores(cases: Sequence[Mapping]) -> dict | None:
    """:func:`fault_type_scores` over report cases (the `cases` of :func:`summarize`, e.g. pooled over several
    reports)."""
    return _named_type_scores([(case["fault_type"], case["predicted_fault_type"]) for case in cases
                               if case["fault_type_correct"] is not None])


def _named_type_scores(pairs: Sequence[tuple[str, str | None]]) -> dict | None:
    """Over (the label's type, the type named or None) pairs."""
    if not pairs:
        return None
    truth, guess = [kind for kind, _ in pairs], [named or NO_TYPE for _, named in pairs]
    return {"cases": len(pairs), "named": sum(named is not None for _, named in pairs),
            "accuracy": round(accuracy(truth, guess), 4), "macro_f1": round(macro_f1(truth, guess), 4),
            "confusion": confusion_matrix(truth, guess)}


def _row(name: str, members: Sequence[CaseResult], typing: bool) -> dict:
    rankings = [r.ranking for r in members]
    truths = [r.truth or "" for r in members]
    count = len(members)
    return {
        "group": name,
        "count": count,
        "failures": sum(1 for r in members if r.error),
        **{f"AC@{k}": round(ac_at_k(rankings, truths, k), 4) for k in KS},
        **{f"Avg@{k}": round(avg_at_k(rankings, truths, k), 4) for k in (3, 5)},
        "fault_type_accuracy": _fault_type_accuracy(members) if typing else None,
        "load_s_per_case": round(sum(r.load_seconds for r in members) / max(count, 1), 3),
        "rank_s_per_case": round(sum(r.rank_seconds for r in members) / max(count, 1), 3),
        "cpu_s_per_case": round(sum(r.cpu_seconds for r in members) / max(count, 1), 3),
    }


def _fault_type_accuracy(members: Sequence[CaseResult]) -> float | None:
    scored = [r.fault_type_correct for r in members if r.typed]
    return round(sum(scored) / len(scored), 4) if scored else None


def flag_in_sample(report: dict, in_sample: set[str]) -> None:
    """Each row's `in_sample`: how many of its cases a trained artefact of the ranker was fitted on."""
    for case in report["cases"]:
        case["in_sample"] = case["case_id"] in in_sample
    for row in report["table"]:
        row["in_sample"] = sum(1 for case in report["cases"] if case["in_sample"] and _in_group(case, row["group"]))


def _in_group(case: dict, group: str) -> bool:
    return group in ("all", f"system={case['system']}", f"system={case['system']} fault={case['fault_type']}")


def format_table(report: dict) -> str:
    columns = ["group", "count", "failures", "AC@1", "AC@2", "AC@3", "AC@5", "Avg@3", "Avg@5",
               "fault_type_accuracy", "load_s_per_case",
               "rank_s_per_case", "cpu_s_per_case", *(["in_sample"] if "in_sample" in report["table"][0] else [])]
    widths = [max(len(c), *(len(_cell(row[c])) for row in report["table"])) for c in columns]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(_cell(row[c]).ljust(w) for c, w in zip(columns, widths)) for row in report["table"]]
    lines += [f"FAILED {f['case_id']}: {f['error']}" for f in report["failures"]]
    return "\n".join(lines)


def _cell(value) -> str:
    return "-" if value is None else str(value)


def statistical_ranking(incident: Incident) -> list[str]:
    """The default rank_fn: the telemetry layer's statistical ranking."""
    from engine.telemetry.ranking import rank_root_causes

    return [candidate.entity for candidate in rank_root_causes(incident)]
