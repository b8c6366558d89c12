"""``rca-tui eval injection`` and ``rca-tui eval attribution-bench``: attribution on fault-injected runs of our own
agents, and its latency. Progress on stderr, ``--json`` on stdout; heavy imports stay inside the commands."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rca_tui.cli.attribution import ModelOption
from rca_tui.cli.common import (ExitCode, JsonOption, emit_json, fail, invocation, progress, ranker_choice, say,
                                scale_out_note)


def eval_injection(
    runs: Annotated[int, typer.Option("--runs", min=1, help="Labelled (wrong) runs to keep.")] = 60,
    cases: Annotated[int, typer.Option("--cases", min=0, help="Nezha cases besides the demo.")] = 6,
    nezha: Annotated[Path | None, typer.Option("--nezha", exists=True, file_okay=False,
                                               help="Nezha dataset root; without it, the demo incident alone.")]
    = None,
    model: ModelOption = "smollm2-135m",
    folds: Annotated[int, typer.Option("--folds", min=2, help="k of the k-fold cross-validation.")] = 5,
    seeds: Annotated[list[int] | None, typer.Option("--seeds", help="CV seeds of the learned tracer (repeat); "
                                                    "default 0 1 2.")] = None,
    max_tokens: Annotated[int | None, typer.Option(
        "--max-tokens", min=64, help="Tokens in one SLM forward pass (default: the engine-run layout's, 1024, "
                                     "which reads every agent step of these runs).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the fault grid and the case pick.")] = 0,
    train_seeds: Annotated[list[int] | None, typer.Option(
        "--train-seeds", help="Also the studies of these seeds (repeat; same options, runs cached alike): their runs "
                              "made with training templates, on incidents --seed's study never tests on, join the "
                              "held-out training sets, and all their kept runs but the demo's the --save-tracer "
                              "training set.")] = None,
    db: Annotated[Path | None, typer.Option("--db", file_okay=False, help="Folder for the session databases "
                                            "(default: a new temporary folder).")] = None,
    save_tracer: Annotated[Path | None, typer.Option(
        "--save-tracer", help="Also train the learned tracer on every kept run and save it here (the shipped one "
                              "is data/attribution/engine-runs-tracer.npz).")] = None,
    tracer: Annotated[Path | None, typer.Option(
        "--tracer", exists=True, dir_okay=False, help="Also score this trained tracer (e.g. the shipped one) on the "
                                                   "generated runs, as they are: with another --seed they are runs "
                                                   "it never saw.")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Runs (in batches on fresh ledgers) and SLM "
                                                                  "features in N local processes (same figures as "
                                                                  "serial).")] = 1,
    dask_scheduler: Annotated[str | None, typer.Option(
        "--dask-scheduler", metavar="tcp://HOST:PORT", help="Runs and SLM features on a Dask distributed cluster "
                                                            "whose workers see --nezha and --db (same figures as "
                                                            "serial).")] = None,
    tamo: Annotated[str | None, typer.Option(
        "--tamo-model", help="TAMO checkpoint of the agents: a path, 'default' (the bundled one, trained on every "
                             "Nezha case: the oracle then knows each study incident's answer) or 'none' (the "
                             "statistical ranking, which builds on what the other agents report).")] = None,
    fresh_runs: Annotated[bool, typer.Option(
        "--fresh-runs", help="Generate the runs again even when this study (same parameters, same agent code) "
                             "cached them before ($RCA_TUI_CACHE/injection-runs); without it a study is re-scored "
                             "on its cached runs.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Fault-injected runs of the seven agents, labelled who / when: baselines, rule and learned tracer."""
    from engine.evaluation.injection import InjectionStudy, run_study
    from engine.parallel import ParallelError

    if save_tracer and not (nezha and cases):
        fail("--save-tracer needs --nezha and --cases >= 1: the demo incident is never trained on", ExitCode.USAGE)
    if seed in (train_seeds or ()):
        fail(f"--train-seeds {seed} is --seed itself: the held-out study cannot train on its own test runs",
             ExitCode.USAGE)
    study = InjectionStudy(runs=runs, cases=cases, nezha=nezha, model=model, folds=folds,
                           seeds=tuple(seeds or (0, 1, 2)), max_tokens=max_tokens, seed=seed, db=db,
                           workers=workers, scheduler=dask_scheduler, tamo_model=ranker_choice(tamo, None)[0],
                           reuse_runs=not fresh_runs, train_seeds=tuple(dict.fromkeys(train_seeds or ())))
    with progress("injection") as advance:  # stderr, --json or not
        try:
            report = run_study(study, tracer, save_tracer, advance)
        except ParallelError as error:
            fail(str(error))
    report["scale_out"] = {"workers": workers, "dask_scheduler": dask_scheduler}
    if save_tracer:
        from engine.provenance import write_manifest

        write_manifest(save_tracer, invocation(), seed, str(nezha or "data/demo"),
                       report["saved_tracer"]["trained_on"])
    if json_out:
        emit_json(report)
    else:
        _print_injection(report)


def attribution_bench(
    data: Annotated[Path, typer.Option("--data", exists=True, help="A Who&When root or any folder of trajectories.")],
    n: Annotated[int, typer.Option("--n", min=1, help="How many trajectories (spread over the folder).")] = 12,
    model: ModelOption = "smollm2-135m",
    threads: Annotated[int, typer.Option("--threads", min=1, help="torch CPU threads.")] = 2,
    json_out: JsonOption = False,
) -> None:
    """Attribution latency per trajectory, uncached (the SLM passes) and cached; figures, not pass/fail."""
    import torch

    from engine.attribution.adapters import load_trajectories
    from engine.attribution.bench import run_benchmark, spread

    torch.set_num_threads(threads)
    try:
        trajectories = load_trajectories(data)
    except ValueError as error:
        fail(str(error), ExitCode.USAGE)
    say(f"timing {min(n, len(trajectories))} trajectories with {model} on {threads} thread(s)")
    report = {**run_benchmark(spread(trajectories, n), model), "threads": threads}
    if json_out:
        emit_json(report)
        return
    say(f"model load {report['model_load_seconds']} s")
    for label, unit, target in (("uncached", "seconds", "2 s"), ("cached", "milliseconds", "50 ms")):
        stats, short = report[f"{label}_{unit}"], "s" if unit == "seconds" else "ms"
        say(f"{label:<9} median {stats['median']} {short} (target <= {target}), p90 {stats['p90']} {short}, "
            f"max {stats['max']} {short}")
    cpu = report["uncached_cpu_seconds"]
    say(f"uncached CPU time (all threads) median {cpu['median']} s, p90 {cpu['p90']} s; load average "
        f"{report['load_average']} (the wall clock counts other processes' use of the cores too)")


def _print_injection(report: dict) -> None:
    stats = report["generation"]
    for case in stats["skipped_cases"]:
        say(f"skipped {case}")
    say(f"runs generated: {stats['runs']}, consensus wrong: {stats['wrong']}, kept (fault step known, "
        f"distinct): {report['timing']['trajectories']}; by mode {stats['by_mode']}; by agent {stats['by_agent']}; "
        f"by incident {stats['by_incident']}")
    reused = " (runs read back from the cache; --fresh-runs makes them again)" if stats["runs_cache"]["reused"] else ""
    say(f"median steps per trajectory: {report['steps_median']}; generation {stats['generation_seconds']} s{reused}"
        + scale_out_note(report["scale_out"]))
    for subset in report["subsets"].values():
        say(f"\n== in distribution: k-fold over every kept run (templates, modes and incidents shared by train and "
            f"test; n={subset['n']}, model {report['model']}, {report['folds']}-fold CV, seeds {report['seeds']}) ==")
        say(f"{'method':<44} {'who':>6} {'when':>6} {'top3':>6}")
        rows = [(f"baseline: {k}", v) for k, v in subset["baselines"].items()]
        rows.append(("rule tracer (no learning)", subset["rule_tracer"]))
        rows += [(f"learned tracer [{k}]", v) for k, v in subset["learned_tracer"].items()]
        if "given_tracer" in report:
            rows.append((f"given tracer, no CV ({Path(report['given_tracer']['path']).name})", report["given_tracer"]))
        for label, m in rows:
            say(f"{label:<44} {m['who']:>6.3f} {m['when']:>6.3f} {m['when_top3']:>6.3f}")
    _print_held_out(report["held_out"])
    audit = report["grounding_audit"]
    say("\ngrounding audit alone (no learning: the first report that disagrees with the tool outputs before it): "
        + "; ".join(f"{label} {audit[key]['who']:.3f} / {audit[key]['when']:.3f} (n={audit[key]['n']})"
                    for label, key in (("held-out test runs", "held_out_test"), ("every kept run", "all_kept"))))
    if "saved_tracer" in report:
        say(f"\nsaved the learned tracer to {report['saved_tracer']['path']} (trained on "
            f"{len(report['saved_tracer']['trained_on'])} runs, none of the demo incident)")
    timing = report["timing"]
    say(f"\nfeatures: {timing['trajectories']} trajectories in {timing['feature_seconds_total']} s "
        f"(median {timing['feature_seconds_median']} s); evaluation {timing['evaluation_seconds_total']} s")


HELD_OUT_METHODS = ("learned_tracer", "rule_tracer", "majority_agent(train)", "first_step", "most_frequent_speaker")


def _print_held_out(held_out: dict) -> None:
    beside = (f"; with the training runs of seeds {', '.join(map(str, held_out['train_seeds']))} on other incidents"
              if held_out["train_seeds"] else "")
    say(f"\n== held out: templates {held_out['test_templates']} (trained on {held_out['train_templates']}), "
        f"incidents {', '.join(held_out['test_incidents'])} (trained on {', '.join(held_out['train_incidents']) or 'none'}"
        f"{beside}), leave one mode out ==")
    say(f"{'runs':<34} {'n':>4} " + " ".join(f"{name[:18]:>18}" for name in HELD_OUT_METHODS) + "   (who / when)")
    rows = [(f"held-out mode {mode} (train {row['n_train']})", row)
            for mode, row in held_out["by_held_out_mode"].items()]
    rows.append(("pooled", held_out["pooled"]))
    rows += [(f"agent {agent}", row) for agent, row in held_out["by_agent"].items()]
    for label, row in rows:
        cells = [f"{row[name]['who']:.3f} / {row[name]['when']:.3f}" if name in row else "-"
                 for name in HELD_OUT_METHODS]
        say(f"{label:<34} {row.get('n_test', row.get('n', 0)):>4} " + " ".join(f"{cell:>18}" for cell in cells))
