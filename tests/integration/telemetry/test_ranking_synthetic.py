"""The ranking on synthetic faults injected into real Train-Ticket telemetry (`rca-tui synth`): a service that logs
errors while all is well must neither hide a fault of its own nor outrank the service whose behaviour changed."""
from __future__ import annotations

from collections import Counter

import pytest

from engine.synth import SynthOptions, synthesize
from engine.telemetry.dataset import list_cases, load_case
from engine.telemetry.ranking import rank_root_causes

from .conftest import NEZHA, need

pytestmark = pytest.mark.datasets

QUIET_SERVICE = "ts-order-service"  # no ERROR line in the dev days' fault-free minutes


def _error_heavy_service(root) -> str:
    """The Train-Ticket service with the most ERROR lines in a dev case's fault-free reference minutes."""
    case = next(ref.case_id for ref in list_cases(root) if ref.case_id.startswith("tt-"))
    errors = Counter(record.entity for record in load_case(root, case).baseline_logs if record.level == "ERROR")
    return errors.most_common(1)[0][0]


@pytest.fixture(scope="module")
def synthetic_tt(tmp_path_factory):
    root = need(NEZHA)
    noisy = _error_heavy_service(root)
    out = tmp_path_factory.mktemp("synth") / "tt"
    synthesize(root, out, SynthOptions(system="TT", services=f"{noisy},{QUIET_SERVICE}",
                                       faults="cpu_consumed,network_delay", seed=3))
    return out, noisy


def test_the_error_heavy_service_logs_errors_in_the_case_windows_too(synthetic_tt):
    out, noisy = synthetic_tt
    quiet_cases = [ref.case_id for ref in list_cases(out) if load_case(out, ref.case_id).label.root_cause != noisy]
    assert quiet_cases
    assert any(record.entity == noisy and record.level == "ERROR"
               for case in quiet_cases for record in load_case(out, case).logs)


def test_the_injected_service_ranks_first_next_to_an_error_heavy_one(synthetic_tt):
    out, noisy = synthetic_tt
    misses = []
    for ref in list_cases(out):
        incident = load_case(out, ref.case_id)
        ranking = rank_root_causes(incident)
        if ranking[0].entity != incident.label.root_cause:
            misses.append((ref.case_id, incident.label.root_cause, incident.label.fault_type, ranking[0].entity))
    assert not misses, f"error-heavy service: {noisy}; missed: {misses}"


SHARED_CALLEE = "SSM_AWS::SSM"  # called by payforadoption and a Step Functions lambda, both below PetSite


def test_a_petshop_component_ranks_above_the_callers_that_inherit_its_fault(tmp_path):
    from .conftest import PETSHOP

    root = need(PETSHOP)
    synthesize(root, tmp_path / "ps", SynthOptions(services=SHARED_CALLEE, seed=5))
    cases = list_cases(tmp_path / "ps")
    assert len(cases) == 6  # 3 fault types x 2 scenarios
    for ref in cases:
        incident = load_case(tmp_path / "ps", ref.case_id)
        ranking = rank_root_causes(incident)
        assert ranking[0].entity == SHARED_CALLEE, (ref.case_id, [c.entity for c in ranking[:3]])
        assert "beyond normal" in ranking[0].reason and "in its callees" in ranking[0].reason
