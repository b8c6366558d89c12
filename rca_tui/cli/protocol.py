"""`rca-tui eval rca --protocol …` / `--train DIR --test DIR`: out-of-sample scores of every ranker in one table."""
from __future__ import annotations

from pathlib import Path

from rca_tui.cli.common import ExitCode, emit_json, fail, invocation, print_table, say

ALL = ("kfold", "cross-system", "leave-fault-type-out")


def protocol_names(protocol: str | None, train: Path | None) -> list[str]:
    from engine.evaluation.protocol import PROTOCOLS

    if not protocol:
        return ["train-test"]
    names = list(ALL) + (["synthetic"] if train else []) if protocol == "all" else protocol.split(",")
    for name in names:
        if name not in PROTOCOLS:
            fail(f"--protocol {name!r}: expected one of {', '.join(PROTOCOLS)} or 'all'", ExitCode.USAGE)
        if name in ("synthetic", "train-test") and train is None:
            fail(f"--protocol {name}: needs --train DIR (the folder to fit on; for synthetic, one made by "
                 "`rca-tui synth`)", ExitCode.USAGE)
    return names


def run_protocols(dataset: Path | None, protocol: str | None, train: Path | None, test: Path | None, folds: int,
                  tamo_model: str | None, save_stacker: Path | None, json_out: bool, progress) -> None:
    from engine.config import TAMO_CHECKPOINT
    from engine.evaluation.protocol import per_fault_rows, run_protocol
    from engine.provenance import write_manifest
    from engine.stacking.ranker import fit_ranker
    from engine.stacking.tools import dataset_tools
    from engine.telemetry.errors import TelemetryError

    scored = test or dataset
    if scored is None:
        fail("give the folder to score: --dataset DIR (or --test DIR with --train DIR)", ExitCode.USAGE)
    names = protocol_names(protocol, train)
    checkpoint = _checkpoint(tamo_model, TAMO_CHECKPOINT)
    for folder in filter(None, (scored, train)):
        if not folder.is_dir():
            fail(f"{folder}: not a folder; expected a dataset folder (Nezha, PetShop, mABC, or one made by "
                 "`rca-tui synth`)", ExitCode.USAGE)
    try:
        cases = progress(lambda p: dataset_tools(scored, checkpoint, lambda d, t, w: p(d, t, _Named(w))))
        train_cases = progress(lambda p: dataset_tools(train, checkpoint, lambda d, t, w: p(d, t, _Named(w)))) \
            if train else None
    except TelemetryError as exc:
        fail(str(exc))
    rows, where = [], []
    for name in names:
        rows += run_protocol(name, cases, train_cases, folds)
        where += per_fault_rows(name, cases, train_cases, folds)
    report = {"scored": str(scored), "train": str(train) if train else None,
              "tamo_checkpoint": str(checkpoint) if checkpoint else None,
              "tamo_in_sample_cases": sorted(c.case_id for c in cases if c.tamo_in_sample),
              "table": rows, "stacked_per_fault": where}
    if save_stacker:
        fitted_on = train_cases if train_cases else cases
        ranker = fit_ranker(fitted_on)
        path = ranker.save(save_stacker)
        write_manifest(path, invocation(), None, str(train or scored), ranker.trained_on)
        report["stacker"] = {"path": str(path), "features": list(ranker.features), "weights": ranker.weights}
    if json_out:
        emit_json(report)
        return
    if report["tamo_in_sample_cases"]:
        say(f"TAMO checkpoint {checkpoint} was trained on {len(report['tamo_in_sample_cases'])} of these cases: "
            "its rows leave them out (in-sample), and the stacker uses TAMO only where every case is out of sample")
    print_table(rows, ["protocol", "method", "system", "cases", "AC@1", "AC@3", "Avg@5", "note"],
                title=f"Out-of-sample root-cause ranking on {scored}" + (f" (fitted on {train})" if train else ""))
    print_table(where, ["protocol", "system", "cases", "AC@1", "AC@3"],
                title="stacked (heuristic tools) per system / fault type")
    if save_stacker:
        say(f"stacked ranker fitted on {len(report['stacker'] and ranker.trained_on)} cases -> {path} (+ manifest)")


class _Named:
    def __init__(self, case_id: str):
        self.case_id = case_id


def _checkpoint(tamo_model: str | None, default: Path) -> Path | None:
    if tamo_model in (None, "none"):
        return default if tamo_model is None and default.is_file() else None
    path = default if tamo_model == "default" else Path(tamo_model)
    if not path.is_file():
        fail(f"--tamo-model {tamo_model}: no checkpoint at {path}", ExitCode.NOT_FOUND)
    return path
