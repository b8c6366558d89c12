"""`rca-tui synth`: labelled incidents injected into the fault-free telemetry of a dataset."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from rca_tui.cli.common import ExitCode, JsonOption, emit_json, fail, print_table, progress, say


def synth(source: Annotated[Path, typer.Option("--from", help="Dataset with fault-free telemetry (Nezha, PetShop).")],
          out: Annotated[Path, typer.Option("--out", help="New folder for the generated dataset.")],
          system: Annotated[str | None, typer.Option("--system", help="Nezha: OB or TT (default: both).")] = None,
          faults: Annotated[str, typer.Option("--faults", help="Comma list of fault types, or 'all'.")] = "all",
          services: Annotated[str, typer.Option("--services", help="Comma list of services, or 'all'.")] = "all",
          per_service: Annotated[int, typer.Option("--per-service", help="Cases per service and fault type.")] = 1,
          seed: Annotated[int, typer.Option("--seed", help="Same seed, same bytes.")] = 0,
          workers: Annotated[int, typer.Option("--workers", min=1, help="Generate the cases in N local processes "
                                                                        "(same bytes as serial).")] = 1,
          dask_scheduler: Annotated[str | None, typer.Option(
              "--dask-scheduler", metavar="tcp://HOST:PORT", help="Generate the cases on a Dask distributed cluster "
                                                                  "whose workers see --from and --out.")] = None,
          json_out: JsonOption = False) -> None:
    """Inject labelled faults (network delay / loss, CPU, memory, exceptions, wrong returns) into real
    fault-free telemetry; writes a dataset folder the loaders and `eval rca` read like any other."""
    from engine.parallel import ParallelError
    from engine.synth import SynthError, SynthOptions, synthesize
    from engine.telemetry.errors import TelemetryError

    options = SynthOptions(system, faults, services, per_service, seed)
    started = time.perf_counter()
    try:
        with progress("synth") as advance:  # stderr, --json or not
            result = synthesize(source, out, options, advance, workers, dask_scheduler)
    except (SynthError, TelemetryError, ParallelError) as exc:
        fail(str(exc), ExitCode.USAGE if isinstance(exc, SynthError) else ExitCode.ERROR)
    elapsed = time.perf_counter() - started
    rows = _summary(result)
    if json_out:
        emit_json({"out": str(out), "cases": len(result.cases), "seconds": round(elapsed, 2),
                   "cases_per_s": round(len(result.cases) / elapsed, 2), "by_type": rows,
                   "skipped": [vars(skip) for skip in result.skipped]})
        return
    print_table(rows, ["system", "fault_type", "cases"], title=f"synthetic cases in {out}")
    say(f"{len(result.cases)} cases in {elapsed:.1f} s ({len(result.cases) / elapsed:.1f} cases/s); "
        f"{len(result.skipped)} service x fault pairs skipped (see SOURCE.md)")


def _summary(result) -> list[dict]:
    from collections import Counter

    counts = Counter((case.system, case.fault_type) for case in result.cases)
    return [{"system": system, "fault_type": fault_type, "cases": count}
            for (system, fault_type), count in sorted(counts.items())]
