"""The Solution Engineer's plan treats the fault as the type the fault-kind classifier named at the root cause
(with the signals that decided it) and falls back on TAMO T3 only when the classifier was not asked."""
from __future__ import annotations

from engine.reasoners.base import Observation
from engine.reasoners.heuristic import repair_steps

COMPARE = Observation("baseline_compare", {"entity": "cart"}, {"entity": "cart", "modalities": {
    "metrics": {"score": 4.0, "summary": "CpuUsageRate(%) 97 (normal 12)"}}})
LOGS = Observation("log_stats", {"entity": "cart"}, {"new_error_templates": []})
CLASSIFIED = Observation("fault_type", {"entity": "cart"}, {
    "entity": "cart", "fault_type": "cpu_consumed", "probabilities": {"cpu_consumed": 0.9, "network_delay": 0.1},
    "because": [{"feature": "ratio:CpuUsageRate(%)", "value": 2.1, "push": 3.0}],
    "remediation": ["Profile the service."]})
TAMO = Observation("tamo_report", {}, {"fault_type": {"network_delay": 0.7, "cpu_consumed": 0.3}, "report": {
    "fault_type": "network_delay", "remediation": ["Check the pod's network path."],
    "priority": {"level": "P2", "reason": "entry point affected"}}})


def _actions(seen: list[Observation]) -> list[str]:
    return [step["action"] for step in repair_steps("cart", seen, {})]


def test_the_classifier_type_and_its_deciding_signal_lead_the_plan_even_where_t3_disagrees():
    actions = _actions([COMPARE, LOGS, CLASSIFIED, TAMO])
    treat = next(a for a in actions if a.startswith("Treat it as"))
    assert "cpu_consumed" in treat and "ratio:CpuUsageRate(%)" in treat and "p=0.90" in treat
    assert "Relieve resource pressure" in actions and "Priority P2" in actions


def test_without_the_classifier_the_plan_takes_t3s_type():
    treat = next(a for a in _actions([COMPARE, LOGS, TAMO]) if a.startswith("Treat it as"))
    assert "network_delay" in treat and "TAMO T3" in treat


def test_the_resource_step_quotes_how_close_the_pod_came_to_its_limit_where_that_was_read():
    saturated = Observation("baseline_compare", {"entity": "cart"}, {"entity": "cart", "modalities": {
        **COMPARE.result["modalities"],
        "saturation": {"score": 0.87, "summary": "CpuUsageRate(%) 97 in the window (usually 12): 97% of the room "
                                                 "left under its limit"}}})
    steps = repair_steps("cart", [saturated, LOGS, CLASSIFIED], {})
    relieve = next(step["description"] for step in steps if step["action"] == "Relieve resource pressure")
    assert relieve.startswith("CpuUsageRate(%) 97 in the window (usually 12): 97% of the room left under its limit")
