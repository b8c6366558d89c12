"""The recovery time is one per day, set by the longest lag at which a minute still showed the previous fault."""
from __future__ import annotations

from collections import Counter

from engine.synth.nezha_pool import MinuteLevels, RealFault, choose_pool

NS = 10**9
MINUTE = 60 * NS


def _minute(start_min: int, errors: int) -> MinuteLevels:
    levels = MinuteLevels(start_min * MINUTE, start_min * MINUTE + MINUTE - NS, Counter({"svc-a": errors}))
    levels.durations["svc-a"] = [1000] * 20
    return levels


def test_a_quiet_minute_soon_after_a_fault_is_dropped_when_a_later_one_still_shows_it():
    reference = _minute(0, 0)
    faults = [RealFault(100 * 60, "svc-a"), RealFault(104 * 60, "svc-a"), RealFault(120 * 60, "svc-a"),
              RealFault(200 * 60, "svc-a")]
    candidates = {"01_43": _minute(103, 0),  # 3 min after the first fault, looks quiet
                  "01_59": _minute(119, 30),  # 15 min after the second, still erroring
                  "03_19": _minute(199, 0)}  # 79 min after the third
    choice = choose_pool(candidates, reference, faults)
    assert choice.recovery_s == 16 * 60
    assert choice.kept == ["03_19"]
    assert set(choice.excluded) == {"01_43", "01_59"}
    assert choice.cutoff_ns["03_19"] == 200 * MINUTE


def test_slow_spans_of_the_previous_service_count_as_not_recovered():
    reference = _minute(0, 0)
    slow = _minute(109, 0)
    slow.durations["svc-a"] = [5000] * 10
    choice = choose_pool({"01_50": slow, "03_20": _minute(199, 0)}, reference,
                         [RealFault(100 * 60, "svc-a"), RealFault(110 * 60, "svc-a"), RealFault(200 * 60, "svc-a")])
    assert choice.recovery_s == 10 * 60 and choice.kept == ["03_20"]


def test_a_statement_the_previous_service_no_longer_logs_counts_as_not_recovered():
    """As after the real Train-Ticket exceptions: no ERROR line, usual latency, but the line after the throw is gone."""
    reference = _minute(0, 0)
    reference.statements.update({("svc-a", "t.s.TravelServiceImpl#366"): 20, ("svc-a", "t.s.TravelServiceImpl#372"): 20})
    cut = _minute(117, 0)  # 17 min after the fault, the statement after the throw still silent
    cut.statements.update({("svc-a", "t.s.TravelServiceImpl#366"): 20})
    quiet = _minute(199, 0)
    quiet.statements.update(reference.statements)
    choice = choose_pool({"01_57": cut, "03_19": quiet}, reference,
                         [RealFault(100 * 60, "svc-a"), RealFault(118 * 60, "svc-a"), RealFault(200 * 60, "svc-a")])
    assert choice.recovery_s == 18 * 60 and choice.kept == ["03_19"]


def test_a_statement_within_its_usual_spread_leaves_the_minute_recovered():
    reference = _minute(0, 0)
    reference.statements[("svc-a", "p.c.PriceController#46")] = 7
    later = _minute(109, 0)
    later.statements[("svc-a", "p.c.PriceController#46")] = 4  # 7 expected: within 3 sigmas + 1
    choice = choose_pool({"01_49": later}, reference, [RealFault(100 * 60, "svc-a"), RealFault(110 * 60, "svc-a")])
    assert choice.recovery_s == 0 and choice.kept == ["01_49"]
