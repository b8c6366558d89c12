"""The ranking never reads the answer: the same telemetry with another label gives the same ranking."""
import json
import shutil

from engine.telemetry.dataset import load_case
from engine.telemetry.ranking import rank_root_causes
from tests.unit.telemetry.conftest import DEMO, DEMO_CASE

FAULT_LIST = "rca_data/2023-01-29/2023-01-29-fault_list.json"


def test_a_relabelled_case_ranks_exactly_as_the_original(tmp_path, demo_incident, demo_ranking):
    relabelled = shutil.copytree(DEMO, tmp_path / "demo")
    faults = json.loads((relabelled / FAULT_LIST).read_text())
    for entry in (entry for entries in faults.values() for entry in entries):
        entry["inject_pod"] = "ts-gateway-service-6f6cfc45b-h5m2n"  # a wrong root cause and a wrong fault type
        entry["inject_type"] = "cpu_contention"
    (relabelled / FAULT_LIST).write_text(json.dumps(faults))

    incident = load_case(relabelled, DEMO_CASE)

    assert incident.label.root_cause != demo_incident.label.root_cause
    assert incident.label.fault_type != demo_incident.label.fault_type
    assert [(c.entity, c.score) for c in rank_root_causes(incident)] == [(c.entity, c.score) for c in demo_ranking]
