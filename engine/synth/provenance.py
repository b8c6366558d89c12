"""SOURCE.md of a generated dataset: how it was made, from what, with which seed and parameters."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from engine.synth.catalog import FAULT_DURATION_S, FAULT_TYPES, SYSTEM_RANGES
from engine.synth.files import write_bytes
from engine.synth.plan import SynthOptions, SynthResult

MADE_BY = "Made by `rca-tui synth`"

HOW_FAULTS_SHOW = """\
| fault type | what changes after the onset (never before) |
|---|---|
| network_delay | every call into the service waits `delay_ms` longer (give or take 15 %): the service's spans start later, every caller span up to the root lasts that much longer; callers' client latency, the OB per-edge latency into it and the front-end latency rise |
| network_loss | each call into it loses its packet with probability `loss`, and each retransmit again: a call lost m times in a row waits (2^m - 1) RTO (`rto_ms`, doubling); after 3 in a row (`loss`^3 of calls) it times out: the callee span never happens, the caller waits 7 RTO and logs an ERROR; callers' success rate and the front-end success rate drop; the OB per-edge median latency stays (fewer than half the calls lose a packet) |
| cpu_contention | the pod's CPU rate taken to `cpu_level` % (the stress fills its limit), its node's up by the log-ratio `node_cpu_ratio` (over its level +1 %), its memory up by `memory_add_mi` MiB (the competing process); the service's own work (not its waits on callees) takes `slowdown` times longer, callers inherit it; its pod's server latency quantiles times `served_latency` where the system lists one below the ranges, else `slowdown` |
| cpu_consumed | the same metrics, within the real `cpu_consumed` cases' ranges (a smaller memory and node share); the same slowdown, larger; the server latency as under contention |
| memory_leak | memory usage climbs from the onset to the end of the fault; a small slowdown |
| exception | a share `error_rate` of the requests through its busiest operation throw at their last log statement: their spans and calls stay, that line never happens, and the service logs no ERROR about it; in a share `caller_stops` of them (Train-Ticket none) the error reaches the caller, which stops its handling right after the call, and (share `caller_logs`) logs the framework's failed-call line; success rate down; its pod's server latency quantiles times `served_latency` (Nezha) |
| return | a share `wrong_rate` of answers are wrong: the service logs one of its own ERROR lines for each and answers in its usual time; the caller stops its handling right after the call, and (share `caller_logs`) logs the framework's failed-call line; a service no traced caller waits on stops its own handling after `kept_share` of its time instead; its pod's server latency quantiles times `served_latency` (Nezha) |

PetShop records metrics only: the component's own latency / availability change (delay adds `delay_ms`; loss adds the mean retransmit wait and fails `loss`^3 of calls; exception fails `error_rate`),
and each caller up to PetSite takes the part its share of requests through the component carries.

Services that neither call nor are called by traced services are given no network or code fault (nothing would
show); the generator lists such skips. Entry services (no traced caller) get network faults on their outgoing calls.
ERROR lines are real lines of the same system (a failing service's own ERROR statements; for a failed call, the
framework's uncaught-exception line several of its services print), re-stamped with the failing span's ids and time; no line
or file names the fault. Ids of every copied minute are re-drawn, so a reused minute is never the same traces twice.
"""

WINDOW_CHOICE = """\
A Nezha alert's minute file holds the minute before the alert, but real faults come every few minutes, so it may
still carry the previous real fault. For each alert minute, the previously faulted service's ERROR lines, p90
span latency and log statements per span were compared with that service's level in the day's construct_data/
reference window; the day's recovery time is the next whole minute past the longest lag at which a minute was still
off it (ERROR lines or latency above, a statement below: a real exception can silence the line after its throw
without an ERROR line or a slower span). Only alert
minutes starting at least that long after the previous real fault are used (the day's first alert has none before
it), with their rows from the alert's own onset on dropped. A case (its metric baseline, window and fault) is placed
clear of every real fault, including the CPU stresses the fault list does not name: a pod's CPU rate 30 points or
more above its day median for two minutes in a row, as every real CPU fault took its root."""


def how_made(folder: Path) -> str:
    """The "Made by" sentence of a generated folder's SOURCE.md (the command, its seed and options), or "" when the
    folder has none."""
    try:
        lines = (folder / "SOURCE.md").read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    return next((line for line in lines if line.startswith(MADE_BY)), "")


def write_source_md(path: Path, source: Path, options: SynthOptions, result: SynthResult) -> None:
    counts = Counter((case.system, case.fault_type) for case in result.cases)
    lines = [
        "# Synthetic labelled incidents on real fault-free telemetry",
        "",
        f"{MADE_BY} from `{source}` with seed {options.seed}: system {options.system or 'all'}, "
        f"faults {options.faults or 'all'}, services {options.services or 'all'}, {options.per_service} per service "
        "and fault type. The same command with the same seed writes the same bytes.",
        "",
        "Telemetry source: the fault-free parts of the folders below (Nezha: the construct_data/ reference minute and "
        "the minutes before real alerts that start at least the day's recovery time after the previous real fault, placed at times of the day when the real metrics are at least 30 minutes "
        "clear of any real fault; PetShop: the noissue/ period, first half kept as the normal period, windows of the "
        "second half used for cases). The source's license and attribution apply to this derived data.",
        "",
        *[f"- `{folder}`" for folder in result.sources],
        "",
        f"{len(result.cases)} cases. Labels are in the source's own format (Nezha `<date>-fault_list.json` and "
        "`construct_data/root_cause_*.json`; PetShop `target.json` root_cause, plus `fault_type`) and in `cases.csv`, "
        "which also records each case's drawn magnitudes.",
        "",
        "| system | fault type | cases |",
        "|---|---|---|",
        *[f"| {system} | {fault_type} | {count} |" for (system, fault_type), count in sorted(counts.items())],
        "",
        "## How each fault was made",
        "",
        f"Magnitudes are drawn per case, uniformly within these ranges; each fault lasts {FAULT_DURATION_S[0]} to "
        f"{FAULT_DURATION_S[1]} s (Nezha) or to the end of the window (PetShop).",
        "",
        *[f"- `{name}`: " + ", ".join(f"{key} {low:g} to {high:g}" for key, (low, high) in sorted(fault.ranges.items()))
          for name, fault in FAULT_TYPES.items()],
        *[f"- `{name}` on {system}: " + ", ".join(f"{key} {low:g} to {high:g}" for key, (low, high) in sorted(ranges.items()))
          for (system, name), ranges in SYSTEM_RANGES.items()],
        "",
        HOW_FAULTS_SHOW,
        "## Not the source's own days",
        "",
        "Nezha dates after the source date are that day's metrics repeated one, two, ... days later, so that every "
        "case finds a fault-free stretch; its trace and log minutes are fault-free minutes of the source day moved "
        "to their new place. The metric CSVs of each day are under rca_data/ only (the source's construct_data/ "
        "copies are identical and not repeated).",
    ]
    if result.window_notes:
        lines += ["", "## Source minutes", "", WINDOW_CHOICE, "", *[f"- {note}" for note in result.window_notes]]
    if result.skipped:
        lines += ["", "## Skipped", "", *[f"- {s.system} {s.service} {s.fault_type}: {s.reason}" for s in result.skipped]]
    write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))
