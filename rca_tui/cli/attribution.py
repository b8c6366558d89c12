"""``rca-tui attribute PATH`` and ``rca-tui eval attribution``: who caused a multi-agent run to fail, and when.

Two plain Typer-annotated functions; the main CLI registers them. Heavy modules (torch, transformers, the engine's
attribution package) are imported inside the functions so ``rca-tui --help`` stays instant.
"""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from rca_tui.cli.common import (DbOption, ExitCode, JsonOption, emit_json, fail, invocation, progress,
                                out, resolve_db, say, scale_out_note)


class Subset(str, Enum):
    hand_crafted = "Hand-Crafted"
    algorithm_generated = "Algorithm-Generated"
    all = "all"


ModelOption = Annotated[
    str, typer.Option("--model", help="SLM: 'smollm2-135m' (bundled default), an HF model folder or a .gguf file.")
]
FailureOption = Annotated[
    str, typer.Option("--failure-step", help="Where the failure shows: final | max_anomaly | first_error | multi.")
]
AnomalyWeightOption = Annotated[
    float, typer.Option("--anomaly-weight", min=0.0, max=1.0, help="λ in λ·anomaly + (1-λ)·influence (rule tracer).")
]
ContextOption = Annotated[
    str, typer.Option("--context", help="Context policy: all_history | sliding_window:K | role_filtered:A,B.")
]
MaxTokensOption = Annotated[int, typer.Option("--max-tokens", min=64, help="Tokens in one SLM forward pass.")]
ChunkedOption = Annotated[bool, typer.Option(
    "--chunked/--one-pass",
    help="Read every step in chunked passes, or one pass that samples steps away (default: it scored better out of "
         "sample).")]
CounterfactualOption = Annotated[int, typer.Option(
    "--counterfactual-steps", min=0, help="How many of the best candidates get the counterfactual test (removing "
                                          "each and re-scoring the final claim); 0 = off.")]


def attribute(
    path: Annotated[
        Path | None, typer.Argument(help="A Who&When .json record, a .json list of steps or a .jsonl file.")
    ] = None,
    model: ModelOption = "smollm2-135m",
    dot: Annotated[Path | None, typer.Option("--dot", help="Write the Soft-IDG as Graphviz DOT.")] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Write a standalone interactive HTML page.")] = None,
    json_out: JsonOption = False,
    tracer_model: Annotated[
        Path | None, typer.Option("--tracer-model", help="A learned tracer (.npz from `eval attribution --save-tracer`); with --run "
                                                 "the one shipped for engine runs.")
    ] = None,
    with_gt: Annotated[bool, typer.Option("--with-gt", help="Let the learned tracer read the ground-truth answer.")] = False,
    failure_step: FailureOption = "final",
    anomaly_weight: AnomalyWeightOption = 0.3,
    context: ContextOption = "all_history",
    max_tokens: MaxTokensOption = 640,
    chunked: ChunkedOption = False,
    counterfactual_steps: CounterfactualOption = 3,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="How many ranked steps to show.")] = 5,
    run: Annotated[
        str | None, typer.Option("--run", help="Attribute an engine run of the database (instead of PATH).")
    ] = None,
    slash: Annotated[
        bool, typer.Option("--slash", help="With --run: if the run's consensus is known wrong, the DAO slashes the "
                                           "named agent, with the evidence path on chain.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Who (which agent) and when (which step) caused this trajectory (or engine run) to fail, with the evidence path."""
    from engine.attribution import analysis, export, learned, pipeline

    config = _attribution_config(failure_step, anomaly_weight, max_tokens, top_k, chunked, counterfactual_steps)
    if (path is None) == (run is None):
        fail("give either PATH (a trajectory file) or --run RUN_ID", ExitCode.USAGE)
    if slash and run is None:
        fail("--slash needs --run RUN_ID", ExitCode.USAGE)
    session = None
    if run is not None:
        from engine.runs.attribution import RunNotFound, engine_run_config, run_trajectory, shipped_tracer_path
        from engine.runs.session import Session

        config = engine_run_config(config)
        tracer_model = tracer_model or shipped_tracer_path()
        session = Session(resolve_db(db))
        try:
            trajectory = run_trajectory(session, run)
        except RunNotFound as error:
            fail(str(error.args[0]), ExitCode.NOT_FOUND)
    else:
        trajectory = _load_one(path, context)
    tracer = learned.load(tracer_model) if tracer_model else None
    scorer = learned.step_scorer(tracer, with_gt) if tracer else analysis.rule_scorer
    try:
        result = pipeline.trace(trajectory, model, config, scorer)
    except FileNotFoundError as error:
        fail(str(error), ExitCode.NOT_FOUND)
    _write_artefact(dot, lambda: export.to_dot(trajectory, result), "DOT graph")
    _write_artefact(html, lambda: export.to_html(trajectory, result), "HTML page")
    recorded = None
    if slash:
        from engine.runs.attribution import slash_culprit

        recorded = slash_culprit(session, run, result, trajectory)
    if json_out:
        data = {**result.to_dict(), "tracer": str(tracer_model) if tracer else "rule"}
        if trajectory.label is not None:
            data["label"] = {"who": trajectory.label.who, "when": trajectory.label.when}
        if recorded is not None:
            data["slash"] = {"tx": recorded["tx"], "consensus_wrong": recorded["consensus_wrong"],
                             "slashed": recorded.get("slashed"), "already_slashed": recorded.get("already_slashed")}
        emit_json(data)
        return
    _print_attribution(trajectory, result)
    say(f"tracer: {f'learned ({tracer_model})' if tracer else 'rule (no learning)'}")
    if trajectory.label is not None:
        say(f"label (injected fault): {trajectory.label.who} at step {trajectory.label.when}")
    if recorded is not None:
        if recorded["tx"]:
            say(f"slashed {recorded['slashed']['agent']} by {recorded['slashed']['amount']} "
                f"(tx {recorded['tx']['tx'][:16]}, block {recorded['tx']['block']}); evidence path on chain")
        elif recorded.get("already_slashed"):
            first = recorded["already_slashed"]
            say(f"not slashed again: {first['agent']} was already slashed for run {run} by tx {first['tx']}")
        else:
            say("not slashed: the run's consensus is not known to be wrong (no label, or it was right)")


def eval_attribution(
    data: Annotated[Path | None, typer.Option("--data", help="Who&When root (Hand-Crafted/, Algorithm-Generated/) or "
                                                             "a folder: k-fold cross-validation within it.")] = None,
    subset: Annotated[Subset, typer.Option("--subset", help="Which subset to score (of every folder given).")] = Subset.all,
    json_out: JsonOption = False,
    model: ModelOption = "smollm2-135m",
    folds: Annotated[int, typer.Option("--folds", min=2, help="k of the k-fold cross-validation.")] = 5,
    seed: Annotated[list[int] | None, typer.Option("--seed", help="Seeds (repeat the option); default 0 1 2.")] = None,
    learned_model: Annotated[str, typer.Option("--learned-model", help="linear | mlp | gnn.")] = "linear",
    ablations: Annotated[bool, typer.Option("--ablations/--no-ablations", help="Also run the ablations.")] = True,
    failure_step: FailureOption = "final",
    anomaly_weight: AnomalyWeightOption = 0.3,
    context: ContextOption = "all_history",
    max_tokens: MaxTokensOption = 640,
    chunked: ChunkedOption = False,
    counterfactual_steps: CounterfactualOption = 3,
    step_level: Annotated[bool, typer.Option(
        "--step-level/--factorised", help="Learned tracer: one ranking over all steps, or an agent scorer then a "
                                          "step scorer within the agent (default).")] = False,
    save_tracer: Annotated[
        Path | None, typer.Option("--save-tracer", help="Also train on all the training data (--data, or --train) and "
                                                        "save the learned tracer here, with a manifest beside it.")
    ] = None,
    train: Annotated[Path | None, typer.Option("--train", help="Held-out protocol: fit on this labelled folder …")]
    = None,
    test: Annotated[Path | None, typer.Option("--test", help="… and score on this one (baselines computed on it).")]
    = None,
    tracer_model: Annotated[
        Path | None, typer.Option("--tracer-model", help="Score this saved learned tracer on --test (or --data); "
                                                         "warns about trajectories its manifest says it was fitted on.")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="SLM feature extraction in N local processes "
                                                                  "(same figures as serial).")] = 1,
    dask_scheduler: Annotated[str | None, typer.Option(
        "--dask-scheduler", metavar="tcp://HOST:PORT", help="Extract the SLM features on a Dask distributed "
                                                            "cluster (same figures as serial).")] = None,
) -> None:
    """Score attribution on labelled trajectories: baselines, rule tracer, learned tracer, ablations.

    Protocols: `--data DIR` (k-fold within it), `--train DIR --test DIR` (held out), `--tracer-model FILE --test DIR`
    (a saved tracer on any labelled folder)."""
    from engine.attribution import learned
    from engine.evaluation import attribution as evaluate

    protocol = _protocol(data, train, test, tracer_model, save_tracer)
    config = evaluate.EvalConfig(
        model_name=model,
        attribution=_attribution_config(failure_step, anomaly_weight, max_tokens, 5, chunked, counterfactual_steps),
        learned=learned.LearnedConfig(model_type=learned_model, factorised=not step_level),
        folds=folds,
        seeds=tuple(seed or (0, 1, 2)),
        ablations=ablations,
        workers=workers,
        scheduler=dask_scheduler,
    )
    from engine.attribution.slm import ModelUnavailableError, model_device
    from engine.parallel import ParallelError

    try:
        model_device()  # a device torch cannot use is named here, before any trajectory is read
        report = _run_protocol(protocol, config, data, train, test, tracer_model, save_tracer, subset, context,
                               evaluate, learned)
    except ModelUnavailableError as error:
        fail(str(error), ExitCode.NOT_FOUND)
    except ParallelError as error:
        fail(str(error))
    report["scale_out"] = {"workers": workers, "dask_scheduler": dask_scheduler}
    if json_out:
        emit_json(report)
    else:
        _print_report(report)


def _run_protocol(protocol, config, data, train, test, tracer_model, save_tracer, subset, context, evaluate,
                  learned) -> dict:
    with progress("features") as advance:  # stderr, --json or not
        if protocol == "saved":
            folder = test or data
            trajectories = _load_folder(folder, subset.value, context)
            tracer = _load_tracer(tracer_model, learned)
            from engine.provenance import in_sample_cases, read_manifest

            manifest = read_manifest(tracer_model)
            if manifest is None:
                say(f"warning: {tracer_model} has no manifest: cannot tell which trajectories it was trained on")
            in_sample = in_sample_cases(tracer_model, [t.id for t in trajectories])
            if in_sample:
                say(f"warning: {tracer_model.name} was trained on {len(in_sample)} of these {len(trajectories)} "
                    f"trajectories ({manifest.command}); its figures on them are in-sample")
            report = evaluate.evaluate_saved(tracer, trajectories, config, in_sample, advance)
            report["tracer_model"] = str(tracer_model)
        elif protocol == "held-out":
            training = _load_folder(train, subset.value, context)
            testing = _load_folder(test, subset.value, context)
            # the same trajectory, not the same question: Who&When's two subsets share question ids
            training_keys = {t.content_key() for t in training}
            overlap = sorted(t.id for t in testing if t.content_key() in training_keys)
            if overlap:
                say(f"warning: {len(overlap)} trajectories are in both --train and --test (e.g. {overlap[0]}): "
                    "their figures are in-sample")
            try:
                report = evaluate.evaluate_held_out(training, testing, config, advance)
            except ValueError as error:
                fail(str(error), ExitCode.USAGE)
            report["train"], report["test"] = str(train), str(test)
            if save_tracer:
                _save_tracer(training, config, save_tracer, evaluate, learned, train)
        else:
            trajectories = _load_folder(data, subset.value, context)
            report = evaluate.evaluate(trajectories, config, advance)
            if save_tracer:
                _save_tracer(trajectories, config, save_tracer, evaluate, learned, data)
    return report


def _protocol(data, train, test, tracer_model, save_tracer) -> str:
    if tracer_model is not None:
        if train is not None or save_tracer is not None:
            fail("--tracer-model scores a saved tracer: it takes --test (or --data), not --train / --save-tracer",
                 ExitCode.USAGE)
        if (test is None) == (data is None):
            fail("--tracer-model needs exactly one labelled folder: --test DIR (or --data DIR)", ExitCode.USAGE)
        if not tracer_model.is_file():
            fail(f"{tracer_model}: no such tracer file", ExitCode.NOT_FOUND)
        return "saved"
    if train is not None or test is not None:
        if train is None or test is None:
            fail("the held-out protocol needs both --train DIR and --test DIR", ExitCode.USAGE)
        if data is not None:
            fail("give either --data DIR (k-fold) or --train DIR --test DIR (held out), not both", ExitCode.USAGE)
        return "held-out"
    if data is None:
        fail("give --data DIR (k-fold), --train DIR --test DIR, or --tracer-model FILE --test DIR", ExitCode.USAGE)
    return "k-fold"


def _load_folder(folder: Path, subset: str, context: str) -> list:
    from engine.attribution import adapters

    skipped: list = []
    try:
        trajectories = adapters.load_trajectories(folder, subset, context, skipped)
    except (ValueError, FileNotFoundError) as error:
        fail(str(error), ExitCode.USAGE if isinstance(error, ValueError) else ExitCode.NOT_FOUND)
    for error in skipped:
        say(f"skipped {error}")
    labelled = [t for t in trajectories if t.label and t.label.when is not None]
    if not labelled:
        fail(f"{folder}: no labelled trajectories of subset {subset}", ExitCode.NOT_FOUND)
    return labelled


def _load_tracer(path: Path, learned) -> Any:
    try:
        return learned.load(path)
    except (ValueError, OSError, KeyError) as error:
        fail(f"{path}: not a learned tracer ({error})", ExitCode.USAGE)


def _attribution_config(failure_step: str, anomaly_weight: float, max_tokens: int, top_k: int, chunked: bool,
                        counterfactual_steps: int) -> Any:
    from dataclasses import replace

    from engine.attribution.pipeline import AttributionConfig

    base = AttributionConfig()
    return replace(
        base,
        features=replace(base.features, max_tokens=max_tokens, chunked=chunked),
        tracer=replace(base.tracer, failure_strategy=failure_step, anomaly_weight=anomaly_weight),
        counterfactual=replace(base.counterfactual, top_n=counterfactual_steps),
        top_k=top_k,
    )


def _load_one(path: Path, context: str) -> Any:
    from engine.attribution.adapters import load_trajectory

    if not path.is_file():
        fail(f"{path}: no such file", ExitCode.NOT_FOUND)
    try:
        return load_trajectory(path, context)
    except ValueError as error:
        fail(str(error), ExitCode.USAGE)


def _write_artefact(target: Path | None, render, what: str) -> None:
    if target is None:
        return
    target.write_text(render(), encoding="utf-8")
    say(f"wrote {what} to {target}")


def _save_tracer(trajectories, config, target: Path, evaluate, learned, data: Path) -> None:
    from engine.provenance import write_manifest

    tracer = evaluate.fit_all(trajectories, config)
    learned.save(tracer, target)
    target = _saved_path(target)
    trained_on = [t.id for t in trajectories if t.label and t.label.when is not None]
    write_manifest(target, invocation(), config.learned.seed, str(data), trained_on)
    say(f"saved the learned tracer to {target} (manifest: {len(trained_on)} training trajectories)")


def _saved_path(target: Path) -> Path:
    """numpy appends .npz to a name without it."""
    return target if target.suffix == ".npz" else target.with_name(target.name + ".npz")


def _print_attribution(trajectory: Any, result: Any) -> None:
    out(f"trajectory {trajectory.id}: {len(trajectory.steps)} steps")
    out(f"who:  {result.who}")
    out(f"when: step {result.when}")
    out("evidence path: " + " -> ".join(f"{s} ({trajectory.steps[s].agent})" for s in result.evidence_path))
    out("top steps:")
    for row in result.ranking:
        out(f"  step {row['step']:>3}  {row['agent']:<32} score {row['score']:.3f}")


def _protocol_line(report: dict, subset: dict) -> str:
    protocol = report.get("protocol", "k-fold")
    if protocol == "train/test":
        return (f"trained on {report.get('train')} (n={subset['n_train']}, majority agent "
                f"{subset['train_majority_agent']!r}), scored on {report.get('test')}, seeds {report['seeds']}")
    if protocol == "saved tracer":
        return f"saved tracer {report.get('tracer_model')}, {len(subset.get('in_sample', []))} in-sample"
    return f"{report['folds']}-fold CV, seeds {report['seeds']}"


def _print_report(report: dict) -> None:
    for name, subset in report["subsets"].items():
        out(f"\n== {name} (n={subset['n']}, {_protocol_line(report, subset)}) ==")
        if "labelled_steps_encoded" in subset:
            out(f"labelled mistake steps read by the SLM: {subset['labelled_steps_encoded']} of {subset['n']}")
        out(f"{'method':<62} {'who':>6} {'when':>6} {'top3':>6} {'top5':>6} {'who~':>6} {'when~':>6} {'prior':>6}")
        rows = [(f"baseline: {k}", v) for k, v in subset["baselines"].items()]
        rows.append(("rule tracer (no learning)", subset["rule_tracer"]))
        rows.append(("claim tracer (no learning, nothing fitted)", subset["claim_tracer"]))
        rows.append(("feedback tracer (no learning, nothing fitted)", subset["feedback_tracer"]))
        rows.append(("shift tracer (feedback + SLM change point, nothing fitted)", subset["shift_tracer"]))
        rows += [(f"learned tracer [{k}]", v) for k, v in subset["learned_tracer"].items()]
        rows += list(subset.get("ablations", {}).items())
        for label, m in rows:
            out(f"{label:<62} {m['who']:>6.3f} {m['when']:>6.3f} {m['when_top3']:>6.3f} {m['when_top5']:>6.3f} "
                f"{m['who_substring_upstream']:>6.3f} {m['when_substring_upstream']:>6.3f}"
                + (f" {m['majority_share']:>6.3f}" if "majority_share" in m else ""))
    out("\nwho/when = exact match; who~/when~ = upstream Who&When substring match (gold '1' matches predicted '10'); "
        "prior = share of predictions naming the training set's majority agent.")
    timing = report["timing"]
    say(f"features: {timing['trajectories']} trajectories in {timing['feature_seconds_total']} s "
        f"(median {timing['feature_seconds_median']} s); whole evaluation {timing['evaluation_seconds_total']} s"
        + scale_out_note(report.get("scale_out")))

