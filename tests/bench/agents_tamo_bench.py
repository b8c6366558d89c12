"""The seven agents' RCA accuracy with TAMO's T2 ranking as one of the Probability Oracle's signals vs without,
on the same cases. TAMO is trained k-fold (never on the cases it is scored on).

    python -m tests.bench.agents_tamo_bench /path/to/rca/nezha [--folds 5]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from engine.evaluation.metrics import ac_at_k, avg_at_k
from engine.evaluation.rca import evaluate_rca
from engine.reasoners.heuristic import HeuristicReasoner
from engine.runs.runner import run_incident
from engine.runs.session import Session
from engine.tamo.dataset import dataset_features
from engine.evaluation.tamo import folds_by_case
from engine.tamo.model import TrainConfig, train_model


def agent_cases(dataset: Path, session: Session, case_ids: list[str], tamo_model: str | None) -> list[dict]:
    def rank(incident):
        return run_incident(session, incident, HeuristicReasoner(), str(dataset), tamo_model=tamo_model)["ranking"]

    report = evaluate_rca(str(dataset), rank, case_ids=case_ids)
    for failure in report["failures"]:
        print(f"failed {failure['case_id']}: {failure['error']}", file=sys.stderr)
    return report["cases"]


def scores(cases: list[dict]) -> dict:
    by_system = defaultdict(list)
    for case in cases:
        by_system[case["system"]].append(case)
    return {system: {"cases": len(members),
                     "AC@1": round(ac_at_k([m["ranking"] for m in members], [m["truth"] for m in members], 1), 4),
                     "AC@3": round(ac_at_k([m["ranking"] for m in members], [m["truth"] for m in members], 3), 4),
                     "Avg@5": round(avg_at_k([m["ranking"] for m in members], [m["truth"] for m in members], 5), 4)}
            for system, members in sorted(by_system.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    labelled = dataset_features(args.dataset)
    folds = folds_by_case(labelled, args.folds)
    with_tamo, without = [], []
    with tempfile.TemporaryDirectory() as tmp:
        session = Session(Path(tmp) / "bench.db")
        for number, fold in enumerate(folds):
            held_out = [labelled[i].features.case_id for i in fold]
            train = [case for i, case in enumerate(labelled) if i not in set(fold)]
            checkpoint = train_model(train, TrainConfig(seed=0)).save(Path(tmp) / f"fold{number}.pt")
            with_tamo += agent_cases(args.dataset, session, held_out, str(checkpoint))
            without += agent_cases(args.dataset, session, held_out, None)
    print(json.dumps({"folds": args.folds, "with_tamo_t2": scores(with_tamo), "without_tamo": scores(without)},
                     indent=2))


if __name__ == "__main__":
    main()
