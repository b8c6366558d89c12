"""The fault types the generator injects, what each needs to be visible, and its magnitude ranges.

Ranges follow what chaos experiments in the RCA literature use (ChaosBlade / Chaos Mesh settings in Nezha,
Eadro, MicroCERCL, RCAEval): network delay 100 ms to 1 s, packet loss 10 to 50 %, CPU stress that takes a
pod from its usual load to contention or saturation, a memory leak of tens of percent of the limit, and code
faults that fail or mislead a share of the requests. Each case draws its own values, so some faults are
loud and some barely clear the noise.

The code faults' shares follow what the real Nezha Train-Ticket code faults changed at their root cause (2023-01-29,
window against the reference minutes, per request the root served): a `return` added .44 to 1.0 ERROR lines of
the root's own per request (median .68); an `exception` added none (median 0, -.23 to +.27) while the root's
other lines per request fell to .80 of their level (.31 to 1.11): one statement of its busiest operation went
silent, its spans per request stayed (.98 to 1.03 of their level); the callers' ERROR lines per request moved by
a median of 0 under both (-.49 to +.57). The statement an exception silences is the last (or only) one of the
failing requests, in 12 of the 13 real exceptions (the 13th, ts-basic-service, logged an ERROR line in another
operation instead), and it fell to 0 of its level in 10 of them (.50 and .60 in two): Train-Ticket's `error_rate`
is that interquartile range, 1.0. Under a return, the callers' requests stop right after the failed answer, as
the real Online Boutique code faults with traces show (productcatalogservice exception and return: the callers'
requests ran .29 to .65 of their usual spans, two thirds of the front end's now ending right after that call,
normally none), and so under an Online Boutique exception (`caller_stops` 1); the real Train-Ticket exceptions'
callers went on (their spans per call into the root .99 to 1.29 of their level, interquartile; the spans per
trace through the root 1.00 to 1.14): there `caller_stops` is 0. A return at a front door no traced caller waits
on stops its own handling after `kept_share` instead (the real frontend return: 54% of its requests made no
call, normally 7%).

Code faults also move the root's own server latency metric, and differently per system. Measured on the same real
dev cases where the generator scales it: the root pod's `PodServerLatencyP90(s)` over the window's minutes after the
injection minute (the fault's whole minutes; the injection minute holds the onset's share, in the real and the
generated cases alike), their mean over the baseline median, the measure the fault-kind classifier reads
(engine.tamo.signatures `ratio:PodServerLatencyP90(s)`, the window's mean over the baseline median). Online Boutique
exceptions .92, .95, 2.0, 20.7 (4 cases), returns .15, .93, .94, 1.84 (4: a return leaves it or lowers it);
Train-Ticket exceptions .52 to 3.3 (13, median 1.0), returns .11 to 1.51 (11, median 1.0). CPU faults move it far
more than their `slowdown` of the traces' own work: Online Boutique contention 3.2 to 214 (8, median 40),
`cpu_consumed` 3.4 to 630 (7, median 66); Train-Ticket contention 1.0 to 20 (4, median 8.2). `served_latency` is
drawn within each system's interquartile range of these, where its real dev cases have the type (Train-Ticket has no
`cpu_consumed`: there the `slowdown` stays). (An earlier measure, the window's peak over the baseline median divided
by the same ratio's median over the case's other pods, drew factors the window mean of the real faults does not
show: Online Boutique's synthetic returns raised the classifier's server latency ratio, .50 on average, where the
real ones lower it, -.33.)

The CPU faults' container and node metrics follow the same real dev cases at their root cause. `cpu_level`, the
container's `CpuUsageRate(%)` over the fault's whole minutes (the window's samples after the injection minute), per
case mean, drawn within the interquartile range: every real CPU fault runs its pod at 78 to 101 % whatever the pod's
usual level (.3 to 55 %), the stress fills the container's limit (contention 86.4 to 99.9 over both systems' 12
cases, Online Boutique 87.3 to 94.9, Train-Ticket 85.4 to 99.9; `cpu_consumed`, Online Boutique's 7, 84.2 to 88.9);
a log-ratio over the usual level (the T3 signatures' measure) took Train-Ticket's pods, usually at .3 to 1.6 %, to 5
to 27 % under `cpu_consumed`. The rest as the T3 signatures read them (engine.tamo.signatures: log-ratio of the
window mean over the baseline median, +1 % offset, and the window's change in MiB): `memory_add_mi`, the MiB the
container's `MemoryUsage(Mi)` gains (contention: the competing process, 4.8 to 8.6, Online Boutique 5.3 to 15.4,
Train-Ticket 3.1 to 4.7; `cpu_consumed` .43 to 2.5); `node_cpu_ratio`, the node's `NodeCpuUsageRate(%)` (contention
.19 to .48, Online Boutique .17 to .33, Train-Ticket .47 to .74; `cpu_consumed` .04 to .21: the service's own work
barely shows on its node). A type's own ranges are those over every real case of it; a system's where it has some.

A multiplicative factor (`served_latency`, `slowdown`) whose range spans more than `WIDE_FACTOR` times its low end is
drawn uniformly in its logarithm (Online Boutique `cpu_consumed` 12.6 to 315, exceptions .94 to 6.68): a uniform draw
over such a range lands mostly above the real cases' median.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.synth.errors import SynthError


@dataclass(frozen=True)
class FaultType:
    name: str
    needs: frozenset[str]  # telemetry the fault shows in: "traces", "cpu", "memory", "latency", "errors"
    ranges: dict[str, tuple[float, float]]


FAULT_TYPES: dict[str, FaultType] = {
    fault.name: fault
    for fault in (
        FaultType("network_delay", frozenset({"latency"}), {"delay_ms": (100, 1000)}),
        FaultType("network_loss", frozenset({"latency", "errors"}),
                  {"loss": (0.1, 0.5), "rto_ms": (200, 400)}),
        FaultType("cpu_contention", frozenset({"cpu"}),
                  {"cpu_level": (86.4, 99.9), "memory_add_mi": (4.8, 8.6), "node_cpu_ratio": (0.19, 0.48),
                   "slowdown": (1.2, 1.8)}),
        FaultType("cpu_consumed", frozenset({"cpu"}),
                  {"cpu_level": (84.2, 88.9), "memory_add_mi": (0.43, 2.5), "node_cpu_ratio": (0.04, 0.21),
                   "slowdown": (1.5, 3.0)}),
        FaultType("memory_leak", frozenset({"memory"}),
                  {"memory_growth": (0.2, 0.6), "slowdown": (1.0, 1.25)}),
        FaultType("exception", frozenset({"errors"}),
                  {"error_rate": (0.3, 0.9), "caller_stops": (1.0, 1.0), "caller_logs": (0.0, 0.2)}),
        FaultType("return", frozenset({"errors", "traces"}),
                  {"wrong_rate": (0.4, 1.0), "kept_share": (0.1, 0.5), "caller_logs": (0.0, 0.2)}),
    )
}
SYSTEM_RANGES: dict[tuple[str, str], dict[str, tuple[float, float]]] = {
    ("OnlineBoutique", "exception"): {"served_latency": (0.94, 6.68)},
    ("OnlineBoutique", "return"): {"served_latency": (0.73, 1.17)},
    ("TrainTicket", "exception"): {"served_latency": (0.93, 1.16), "error_rate": (1.0, 1.0),
                                   "caller_stops": (0.0, 0.0)},
    ("TrainTicket", "return"): {"served_latency": (0.91, 1.07)},
    ("OnlineBoutique", "cpu_contention"): {"served_latency": (30.3, 59.5), "cpu_level": (87.3, 94.9),
                                           "memory_add_mi": (5.3, 15.4), "node_cpu_ratio": (0.17, 0.33)},
    ("OnlineBoutique", "cpu_consumed"): {"served_latency": (12.6, 315.4)},
    ("TrainTicket", "cpu_contention"): {"served_latency": (4.58, 13.0), "cpu_level": (85.4, 99.9),
                                        "memory_add_mi": (3.1, 4.7), "node_cpu_ratio": (0.47, 0.74)},
}
# The load a code fault's root serves: the root pod's CPU rate (`cpu_load`), syscalls (`syscalls`, the geometric mean
# of read and write) and requests (`workload`), the fault minutes' mean over the baseline median, interquartile range
# over the real dev cases of the system and type (as `served_latency`; engine.synth.metric_faults `_code_load`)
CODE_LOAD_RANGES: dict[tuple[str, str], dict[str, tuple[float, float]]] = {
    ("OnlineBoutique", "exception"): {"cpu_load": (0.55, 1.54), "syscalls": (0.67, 1.05), "workload": (0.80, 1.11)},
    ("OnlineBoutique", "return"): {"cpu_load": (0.22, 2.52), "syscalls": (0.71, 1.28), "workload": (0.81, 1.09)},
    ("TrainTicket", "exception"): {"cpu_load": (0.87, 1.07), "syscalls": (0.77, 0.95), "workload": (0.96, 1.43)},
    ("TrainTicket", "return"): {"cpu_load": (0.72, 1.13), "syscalls": (1.00, 1.65), "workload": (0.83, 1.28)},
}
# The highest `CpuUsageRate(%)` sample of the 19 real dev CPU faults' roots (77.7 to 101.2 over their fault minutes):
# the container's limit, which a sample's jitter around `cpu_level` never passes (engine.synth.metric_faults `_cpu`)
CPU_RATE_CEILING = 101.2
MULTIPLICATIVE = frozenset({"served_latency", "slowdown", "cpu_load", "syscalls", "workload"})  # drawn by `_draw`
WIDE_FACTOR = 4.0
FAULT_DURATION_S = (240, 360)  # the fault outlasts the two minutes a detector reads
ONSET_SECOND = (0, 50)  # within the injection minute, like the source datasets' inject times


def parse_fault_types(text: str | None, available: frozenset[str], system: str) -> list[str]:
    """`None` / "all" -> every type the system's telemetry can show; else a comma list, each checked."""
    visible = [name for name, fault in FAULT_TYPES.items() if fault.needs <= available]
    if text in (None, "", "all"):
        return visible
    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        if name not in FAULT_TYPES:
            raise SynthError(f"unknown fault type {name!r}; expected one of {', '.join(FAULT_TYPES)}")
        if name not in visible:
            missing = ", ".join(sorted(FAULT_TYPES[name].needs - available))
            raise SynthError(f"fault type {name!r} needs {missing} telemetry, which {system} does not record")
    return names


def draw_parameters(fault_type: str, rng: np.random.Generator, system: str | None = None) -> dict[str, float]:
    ranges = {**FAULT_TYPES[fault_type].ranges, **SYSTEM_RANGES.get((system, fault_type), {})}
    drawn = {name: _draw(name, low, high, rng) for name, (low, high) in sorted(ranges.items())}
    drawn["duration_s"] = float(rng.uniform(*FAULT_DURATION_S))
    load = CODE_LOAD_RANGES.get((system, fault_type), {})  # drawn last: the other magnitudes stay as they were
    drawn.update({name: _draw(name, low, high, rng) for name, (low, high) in sorted(load.items())})
    return {name: round(value, 4) for name, value in drawn.items()}


def _draw(name: str, low: float, high: float, rng: np.random.Generator) -> float:
    """Uniform within the range; uniform in the logarithm for a multiplicative factor whose range spans more than
    `WIDE_FACTOR` times its low end, so that half the draws land below the range's geometric middle."""
    if name in MULTIPLICATIVE and high > WIDE_FACTOR * low:
        return float(np.exp(rng.uniform(np.log(low), np.log(high))))
    return float(rng.uniform(low, high))
