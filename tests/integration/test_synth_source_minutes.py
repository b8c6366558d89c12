"""The Nezha minutes `rca-tui synth` copies as fault-free background overlap no real fault: checked against the
source's own case list (cases.csv), not against anything the generator wrote."""
from __future__ import annotations

import calendar
import csv
import os
import time
from pathlib import Path

import pytest

from engine.synth.nezha_source import BASELINE_S, CASE_SPAN_S, free_slots, nezha_days
from engine.synth.spans import span_row

NEZHA = Path(os.environ.get("RCA_TUI_DATASETS", Path(__file__).resolve().parents[2].parent / "shared" / "datasets")) \
    / "rca" / "nezha"
NS = 10**9


def _real_fault_windows(date: str) -> list[tuple[str, float, float]]:
    """(case id, inject time, end of its last window minute) of every real case of the day. inject_time, not
    inject_timestamp: the spans' clock is inject_time read as UTC (inject_timestamp is eight hours off)."""
    with open(NEZHA / "cases.csv", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["date"] == date]
    windows = []
    for row in rows:
        last = row["window_files"].split(";")[-1]
        end = calendar.timegm(time.strptime(f"{date} {last}", "%Y-%m-%d %H_%M")) + 60
        onset = calendar.timegm(time.strptime(row["inject_time"], "%Y-%m-%d %H:%M:%S"))
        windows.append((row["case_id"], float(onset), float(end)))
    return windows


@pytest.mark.skipif(not (NEZHA / "cases.csv").exists(), reason=f"dataset folder {NEZHA} is absent")
@pytest.mark.parametrize("system", ["TT", "OB"])
def test_no_source_minute_overlaps_a_real_fault_or_follows_one_within_the_recovery_time(system):
    for day in nezha_days(NEZHA, system):
        windows = _real_fault_windows(day.date)
        assert windows and day.pool
        recovery = day.pool_choice.recovery_s
        for minute in day.pool:
            starts = [span_row(row).start_ns / NS for row in day.background(minute)[0]]
            first, last = min(starts), max(starts)
            assert last - first < 90, f"{day.date} {minute} is not one minute of telemetry"
            for case_id, onset, end in windows:
                assert last < onset or first >= end, f"{day.date} {minute} overlaps real case {case_id}"
                assert not 0 <= first - onset < recovery, f"{day.date} {minute} within recovery of {case_id}"


@pytest.mark.skipif(not (NEZHA / "cases.csv").exists(), reason=f"dataset folder {NEZHA} is absent")
def test_train_ticket_minutes_still_erroring_from_the_previous_fault_are_not_used():
    """Issue 12: 08_52 holds ts-contacts-service ERROR lines of the 08:43 fault, 09_21 those of ts-basic-service's
    09:12 fault."""
    (day,) = nezha_days(NEZHA, "TT")
    assert {"08_52", "09_21"} <= set(day.pool_choice.excluded)
    assert not {"08_52", "09_21"} & {minute.name for minute in day.pool if not minute.reference}


@pytest.mark.skipif(not (NEZHA / "cases.csv").exists(), reason=f"dataset folder {NEZHA} is absent")
def test_online_boutique_backgrounds_come_from_more_than_the_one_alert_minute_the_recovery_time_leaves():
    """Issue 12: the recovery filter keeps one of Online Boutique's alert minutes; the reference window's minutes
    (construct_data) join the pool, so synthetic cases do not all share one background."""
    (day,) = nezha_days(NEZHA, "OB")
    assert len(day.pool_choice.kept) == 1
    sources = {tuple(sorted(row["TraceID"] for row in day.background(minute)[0][:50])) for minute in day.pool}
    assert len(day.pool) >= 2 and len(sources) == len(day.pool)


@pytest.mark.skipif(not (NEZHA / "cases.csv").exists(), reason=f"dataset folder {NEZHA} is absent")
def test_train_ticket_minutes_still_under_a_real_exception_are_not_used():
    """Issue 12: 10_45 still lacks ts-travel2-service's line after its 10:26 exception (TravelServiceImpl#372), 11_29
    ts-price-service's after its 11:19 one (PriceController#46); neither logs an ERROR line or slows down."""
    (day,) = nezha_days(NEZHA, "TT")
    assert {"10_45", "11_29"} <= set(day.pool_choice.excluded)
    assert not {"10_45", "11_29"} & {minute.name for minute in day.pool if not minute.reference}


def _pinned_minutes(day, service: str, rate: float) -> list[float]:
    """Minutes the service's pod ran at `rate` % CPU or more, read straight from the day's metric file."""
    with open(day.day_dir / "metric" / f"{day.pods[service]}_metric.csv", newline="") as handle:
        return [float(row["TimeStamp"]) for row in csv.DictReader(handle)
                if row["CpuUsageRate(%)"] and float(row["CpuUsageRate(%)"]) >= rate]


@pytest.mark.skipif(not (NEZHA / "cases.csv").exists(), reason=f"dataset folder {NEZHA} is absent")
def test_no_synthetic_case_holds_a_cpu_stress_the_fault_list_leaves_out():
    """Train-Ticket's 2023-01-29 metrics pin ts-route-service (16:09, 16:27) and ts-user-service (16:35, 16:52) at their
    CPU limit after the day's last listed fault (15:42): real faults cases.csv does not name. No case's metric baseline,
    window or fault may hold them (before the fix, seed 41's ts-route-service exception at 16:51 ranked
    ts-user-service first on its 100 % CPU)."""
    (day,) = nezha_days(NEZHA, "TT")
    listed = [onset for _, onset, _ in _real_fault_windows(day.date)]
    pinned = [t for service in ("ts-route-service", "ts-user-service") for t in _pinned_minutes(day, service, 90.0)]
    assert pinned and all(t > max(listed) for t in pinned)
    for slot in free_slots(day):
        assert all(not slot - BASELINE_S <= t < slot + CASE_SPAN_S for t in pinned), time.gmtime(slot)
