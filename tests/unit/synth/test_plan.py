from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from engine.synth.catalog import FAULT_TYPES, draw_parameters, parse_fault_types
from engine.synth.errors import SynthError
from engine.synth.plan import choose_services, plan_faults

ALL = frozenset({"traces", "cpu", "memory", "latency", "errors"})


def test_every_service_gets_every_type_per_service_times_and_never_twice_in_a_row():
    services = ["a", "b", "c", "d", "e"]
    planned = plan_faults(services, list(FAULT_TYPES), 2, seed=7)
    assert Counter((fault.service, fault.fault_type) for fault in planned) == {
        (service, fault_type): 2 for service in services for fault_type in FAULT_TYPES}
    assert all(first.service != second.service for first, second in zip(planned, planned[1:]))


def test_magnitudes_stay_within_their_ranges_and_follow_the_seed():
    for name, fault in FAULT_TYPES.items():
        drawn = draw_parameters(name, np.random.default_rng(1))
        assert all(low <= drawn[key] <= high for key, (low, high) in fault.ranges.items())
    assert plan_faults(["a", "b"], ["network_delay"], 1, 3) == plan_faults(["a", "b"], ["network_delay"], 1, 3)
    assert plan_faults(["a", "b"], ["network_delay"], 1, 3) != plan_faults(["a", "b"], ["network_delay"], 1, 4)


def test_a_wide_latency_factor_lands_half_its_draws_below_its_geometric_middle():
    rng = np.random.default_rng(5)
    drawn = [draw_parameters("cpu_consumed", rng, "OnlineBoutique")["served_latency"] for _ in range(2000)]
    assert all(12.6 <= value <= 315.4 for value in drawn)
    assert 0.45 < np.mean(np.array(drawn) < np.sqrt(12.6 * 315.4)) < 0.55  # a plain uniform draw: about a sixth


def test_bad_fault_types_and_services_are_named():
    with pytest.raises(SynthError, match="unknown fault type 'disk_fill'"):
        parse_fault_types("network_delay,disk_fill", ALL, "TrainTicket")
    with pytest.raises(SynthError, match="'memory_leak' needs memory telemetry, which PetShop does not record"):
        parse_fault_types("memory_leak", frozenset({"latency", "errors"}), "PetShop")
    with pytest.raises(SynthError, match="unknown service.*ts-nope"):
        choose_services("ts-nope", ["ts-a"], "TrainTicket")
    assert parse_fault_types("all", frozenset({"latency", "errors"}), "PetShop") == [
        "network_delay", "network_loss", "exception"]
