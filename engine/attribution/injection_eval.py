"""Fault-injection evaluation of attribution on our own agents.

Runs the seven agents (heuristic reasoner) on several incidents (Nezha cases, each loaded once, plus the bundled
demo) with one injected fault each (agent x step x mode, seeded), keeps the runs whose consensus went wrong
(consensus != label root cause, no consensus included) as labelled trajectories (who = the injected agent, when =
the step where the fault took effect), and scores who / when exact-match accuracy of the rule tracer, the learned
tracer (k-fold CV) and the trivial baselines.

    python -m engine.attribution.injection_eval [--runs N] [--json]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from engine.attribution.schema import Trajectory

NEZHA = Path("/work/shared/datasets/rca/nezha")
MODES = ("hallucinate", "misreport", "vote_against")
STEPS = (0, 1, 2, 3)


def fault_grid(seed: int) -> list:
    """Every agent x step x mode, in a seeded order."""
    from engine.agents.faults import FaultSpec
    from engine.agents.roles import ROLES

    grid = [FaultSpec(role.key, step, mode) for role in ROLES for step in STEPS for mode in MODES
            if not (mode == "vote_against" and step)]  # vote_against ignores the step
    random.Random(seed).shuffle(grid)
    return grid


def load_incidents(nezha_dir: Path | None, cases: int, seed: int) -> list:
    """The demo incident plus up to `cases` Nezha cases (seeded pick across systems), each loaded once."""
    from engine.runs.runner import DEMO_DIR
    from engine.telemetry import list_cases, load_case

    incidents = [load_case(DEMO_DIR, list_cases(DEMO_DIR)[0].case_id)]
    if nezha_dir and nezha_dir.is_dir() and cases:
        refs = list_cases(nezha_dir)
        random.Random(seed).shuffle(refs)
        for ref in refs:
            if len(incidents) > cases:
                break
            try:
                incidents.append(load_case(nezha_dir, ref.case_id))
            except Exception as error:  # a case with missing files: skip it, say so
                print(f"skipped {ref.case_id}: {error}", file=sys.stderr)
    return incidents


def generate(folder: Path, incidents: list, target: int, seed: int, max_runs: int = 2000,
             runs_per_db: int = 8) -> tuple[list[Trajectory], dict]:
    """Fault-injected runs until `target` wrong (labelled) runs are kept; round-robin over incidents and faults.

    Wrong runs cost the agents stake and gas, so a fresh session database (fresh genesis) is started every
    `runs_per_db` runs, and whenever a run stops for lack of funds."""
    from engine.agents.workflow import RunFailed
    from engine.runs.attribution import run_trajectory
    from engine.reasoners.heuristic import HeuristicReasoner
    from engine.runs.runner import run_incident
    from engine.runs.session import Session

    folder.mkdir(parents=True, exist_ok=True)
    databases = 0
    session = None

    grid = fault_grid(seed)
    kept: list[Trajectory] = []
    stats = {"runs": 0, "wrong": 0, "wrong_without_fault": 0, "duplicates": 0, "no_fault_step": 0, "failed": 0,
             "by_mode": {}, "by_agent": {}, "by_incident": {}}
    reasoner = HeuristicReasoner()
    fault_free: dict = {}
    seen: set = set()
    index = 0
    while len(kept) < target and stats["runs"] < max_runs and index < len(grid) * len(incidents) * 3:
        incident = incidents[index % len(incidents)]
        fault = grid[(index // len(incidents)) % len(grid)]
        run_seed = index // (len(incidents) * len(grid))  # the seed picks the decoy; new decoys on later passes
        index += 1
        if session is None or stats["runs"] % runs_per_db == 0:
            session, databases = Session(folder / f"rca-{databases:03d}.db"), databases + 1
        stats["runs"] += 1
        try:
            result = run_incident(session, incident, reasoner, seed=run_seed, fault=fault)
        except RunFailed:
            stats["failed"] += 1
            session = None
            continue
        wrong = result["label"] and result["root_cause"] != result["label"]["root_cause"]
        if not wrong:
            continue
        stats["wrong"] += 1
        if wrong_without_fault(incident, run_seed, fault_free):
            stats["wrong_without_fault"] += 1  # the fault did not cause it: no trustworthy label
            continue
        if result["injected_fault"]["trajectory_step"] is None:
            stats["no_fault_step"] += 1
            continue
        trajectory = run_trajectory(session, result["run_id"])
        content = _content_key(trajectory)
        if content in seen:
            stats["duplicates"] += 1  # another fault (e.g. a later step of an agent that answers at once) same run
            continue
        seen.add(content)
        kept.append(trajectory)
        for tally, key in (("by_mode", fault.mode), ("by_agent", fault.agent), ("by_incident", incident.case_id)):
            stats[tally][key] = stats[tally].get(key, 0) + 1
    return kept, stats


def _content_key(trajectory: Trajectory) -> tuple:
    """Steps and label, without run ids and timestamps: two runs with the same key teach the same thing."""
    return (tuple((step.agent, step.kind, step.content) for step in trajectory.steps),
            trajectory.label.who, trajectory.label.when)


def wrong_without_fault(incident, seed: int, cache: dict) -> bool:
    """Whether the same incident goes wrong with no fault injected (fresh ledger): then a wrong faulty run says
    nothing about the fault. ``cache`` keeps one answer per (case, seed)."""
    from engine.reasoners.heuristic import HeuristicReasoner
    from engine.runs.runner import run_incident
    from engine.runs.session import Session

    key = (incident.case_id, seed)
    if key not in cache:
        with tempfile.TemporaryDirectory(prefix="fault-free-") as folder:
            result = run_incident(Session(Path(folder) / "rca.db"), incident, HeuristicReasoner(), seed=seed)
        cache[key] = bool(result["label"]) and result["root_cause"] != result["label"]["root_cause"]
    return cache[key]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.attribution.injection_eval",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60, help="labelled (wrong) runs to keep (default 60)")
    parser.add_argument("--cases", type=int, default=6, help="Nezha cases besides the demo (default 6)")
    parser.add_argument("--nezha", type=Path, default=NEZHA, help="Nezha dataset root")
    parser.add_argument("--model", default="smollm2-135m", help="SLM for the white-box features")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="CV seeds of the learned tracer")
    parser.add_argument("--max-tokens", type=int, default=640, help="tokens in the SLM forward pass")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault grid and the case pick")
    parser.add_argument("--db", type=Path, default=None, help="folder for the session databases (default: temp)")
    parser.add_argument("--save-tracer", type=Path, default=None,
                        help="also train the learned tracer on every kept run and save it here (the shipped one is "
                             "data/attribution/engine-runs-tracer.npz)")
    parser.add_argument("--tracer", type=Path, default=None,
                        help="also score this trained tracer (e.g. the shipped one) on the generated runs, as they "
                             "are: with another --seed they are runs it never saw")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)

    from engine.evaluation.attribution import EvalConfig, evaluate
    from engine.runs.attribution import engine_run_config
    started = time.perf_counter()
    db = args.db or Path(tempfile.mkdtemp(prefix="injection-eval-"))
    incidents = load_incidents(args.nezha, args.cases, args.seed)
    trajectories, stats = generate(db, incidents, args.runs, args.seed)
    stats["generation_seconds"] = round(time.perf_counter() - started, 2)
    stats["incidents"] = [i.case_id for i in incidents]
    stats["db"] = str(db)
    base = engine_run_config()
    config = EvalConfig(model_name=args.model, folds=args.folds, seeds=tuple(args.seeds), ablations=False,
                        attribution=replace(base, features=replace(base.features, max_tokens=args.max_tokens)))
    progress = None if args.json else (lambda done, total, label: print(f"\rfeatures {done}/{total}", end="",
                                                                          file=sys.stderr, flush=True))
    report = evaluate(trajectories, config, progress)
    report["generation"] = stats
    if args.tracer:
        from engine.evaluation.attribution import score_tracer
        from engine.attribution.learned import load

        report["given_tracer"] = {"path": str(args.tracer), **score_tracer(trajectories, load(args.tracer), config)}
    if args.save_tracer:
        from engine.evaluation.attribution import fit_all
        from engine.attribution.learned import save

        args.save_tracer.parent.mkdir(parents=True, exist_ok=True)
        save(fit_all(trajectories, config), args.save_tracer)
        report["saved_tracer"] = str(args.save_tracer)
    report["steps_median"] = sorted(len(t.steps) for t in trajectories)[len(trajectories) // 2] if trajectories else 0
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(file=sys.stderr)
        _print(report)
    return 0


def _print(report: dict) -> None:
    stats = report["generation"]
    print(f"runs generated: {stats['runs']}, consensus wrong: {stats['wrong']}, kept (fault step known, "
          f"distinct): {report['timing']['trajectories']}; by mode {stats['by_mode']}; by agent {stats['by_agent']}; "
          f"by incident {stats['by_incident']}")
    print(f"median steps per trajectory: {report['steps_median']}; generation {stats['generation_seconds']} s")
    for name, subset in report["subsets"].items():
        print(f"\n== injected faults (n={subset['n']}, model {report['model']}, {report['folds']}-fold CV, "
              f"seeds {report['seeds']}) ==")
        print(f"{'method':<44} {'who':>6} {'when':>6} {'top3':>6}")
        rows = [(f"baseline: {k}", v) for k, v in subset["baselines"].items()]
        rows.append(("rule tracer (no learning)", subset["rule_tracer"]))
        rows += [(f"learned tracer [{k}]", v) for k, v in subset["learned_tracer"].items()]
        if "given_tracer" in report:
            rows.append((f"given tracer, no CV ({Path(report['given_tracer']['path']).name})", report["given_tracer"]))
        for label, m in rows:
            print(f"{label:<44} {m['who']:>6.3f} {m['when']:>6.3f} {m['when_top3']:>6.3f}")
    timing = report["timing"]
    print(f"\nfeatures: {timing['trajectories']} trajectories in {timing['feature_seconds_total']} s "
          f"(median {timing['feature_seconds_median']} s); evaluation {timing['evaluation_seconds_total']} s")


if __name__ == "__main__":
    raise SystemExit(main())
