"""A generated Train-Ticket dataset (from the bundled demo day): the loader reads it and each fault shows
where, when and how it should, and only from the telemetry."""
from __future__ import annotations

import gzip
from collections import Counter
from statistics import median

import numpy as np
import pytest

from engine.telemetry.dataset import list_cases, load_case
from engine.telemetry.profiles import statement_of
from engine.telemetry.spans import request_shapes, span_edges
from tests.unit.synth.conftest import SERVICE, generate


def _case(demo_synth, fault_type):
    out, result = demo_synth
    case = next(case for case in result.cases if case.fault_type == fault_type)
    return case, load_case(out, case.case_id)


def _calls_into(spans, service):
    """(start, duration) of each caller span whose callee is `service`: the edge latency as the caller sees it."""
    by_id = {span.span_id: span for span in spans}
    return [(parent.start, parent.duration_ms) for span in spans if span.entity == service
            and (parent := by_id.get(span.parent_id)) is not None and parent.entity != service]


def _roots_reaching(spans, service):
    traces = {span.trace_id for span in spans if span.entity == service}
    return [(span.start, span.duration_ms) for span in spans if not span.parent_id and span.trace_id in traces]


def _errors(logs, entities, after=None):
    return sum(1 for record in logs if record.level == "ERROR" and record.entity in entities
               and (after is None or record.time >= after))


def test_the_loader_lists_every_case_with_its_label(demo_synth):
    out, result = demo_synth
    assert sorted(ref.case_id for ref in list_cases(out)) == sorted(case.case_id for case in result.cases)
    assert {case.fault_type for case in result.cases} == {"network_delay", "network_loss", "cpu_contention",
                                                          "cpu_consumed", "memory_leak", "exception", "return"}
    for case in result.cases:
        label = load_case(out, case.case_id).label
        assert (label.root_cause, label.fault_type) == (SERVICE, case.fault_type)


def test_delay_slows_calls_into_the_service_after_the_onset_and_not_before(demo_synth):
    case, incident = _case(demo_synth, "network_delay")
    calls = _calls_into(incident.spans, SERVICE)
    after = [duration for start, duration in calls if start >= case.onset]
    before = [duration for start, duration in calls if start < case.onset]
    reference = [duration for _, duration in _calls_into(incident.baseline_spans, SERVICE)]
    delay = case.parameters["delay_ms"]
    assert median(after) - median(reference) > 0.5 * delay
    assert not before or abs(median(before) - median(reference)) < 0.1 * delay


def test_delay_reaches_the_callers_up_to_the_front_door(demo_synth):
    case, incident = _case(demo_synth, "network_delay")
    after = [duration for start, duration in _roots_reaching(incident.spans, SERVICE) if start >= case.onset]
    reference = [duration for _, duration in _roots_reaching(incident.baseline_spans, SERVICE)]
    assert median(after) - median(reference) > 0.5 * case.parameters["delay_ms"]
    callers = incident.metrics[next(iter(incident.topology.predecessors(SERVICE)))]
    _, window = _before_after(callers, "PodClientLatencyP90(s)", case.onset)
    assert max(window) > 0  # a caller pod's client latency is recorded where the fault lands


def test_loss_makes_a_share_of_the_calls_into_the_service_wait_out_retransmits_after_the_onset(demo_synth):
    case, incident = _case(demo_synth, "network_loss")
    usual = median(duration for _, duration in _calls_into(incident.baseline_spans, SERVICE))

    def late_share(calls):
        return sum(duration > usual + 0.9 * case.parameters["rto_ms"] for _, duration in calls) / len(calls)

    calls = _calls_into(incident.spans, SERVICE)
    after = late_share([call for call in calls if call[0] >= case.onset])
    assert late_share(_calls_into(incident.baseline_spans, SERVICE)) + 0.1 < after < 0.9
    assert late_share([call for call in calls if call[0] < case.onset]) < after - 0.1


def _before_after(series, metric, onset):
    values = series.values[metric]
    return values[series.times < onset], values[(series.times > onset) & (series.times < onset + 180)]


@pytest.mark.parametrize("fault_type", ["cpu_contention", "cpu_consumed"])
def test_cpu_faults_raise_the_pods_cpu(demo_synth, fault_type):
    case, incident = _case(demo_synth, fault_type)
    before, after = _before_after(incident.metrics[SERVICE], "CpuUsageRate(%)", case.onset)
    assert np.nanmean(after) > np.nanmax(before) + 10


def test_memory_leak_ramps_memory_up(demo_synth):
    case, incident = _case(demo_synth, "memory_leak")
    before, after = _before_after(incident.metrics[SERVICE], "MemoryUsageRate(%)", case.onset)
    assert np.all(np.diff(after) > 0) and after[-1] > np.nanmax(before) + 5


def _lines_per_request(spans, logs, service, level_is_error):
    """The service's log lines of one kind per request it served (its spans called from another service)."""
    by_id = {span.span_id: span for span in spans}
    served = [span for span in spans if span.entity == service
              and (span.parent_id not in by_id or by_id[span.parent_id].entity != service)]
    lines = [r for r in logs if r.entity == service and (r.level == "ERROR") == level_is_error]
    return len(lines) / max(len(served), 1)


def _after(case, incident):
    return ([span for span in incident.spans if span.start >= case.onset],
            [record for record in incident.logs if record.time >= case.onset])


def _statement_rates(spans, logs, service):
    """Per statement the service logs in the requests of its busiest operation: lines per such request."""
    by_id = {span.span_id: span for span in spans}

    def request(span):
        while span.parent_id in by_id and by_id[span.parent_id].entity == service:
            span = by_id[span.parent_id]
        return span

    operations = Counter(request(span).operation for span in spans if span.entity == service)
    busiest, served = operations.most_common(1)[0]
    served = sum(1 for span in spans if span.entity == service and request(span) is span and span.operation == busiest)
    lines = Counter(statement_of(record.template) for record in logs if record.entity == service
                    and record.span_id in by_id and request(by_id[record.span_id]).operation == busiest)
    return {statement: count / served for statement, count in lines.items()}


def test_exception_silences_one_statement_of_the_faulty_services_busiest_operation_and_adds_no_error_line(demo_synth):
    """As in the real Train-Ticket exceptions (12 of 13 dev cases): in the root's busiest operation one statement,
    its last, falls silent (to 0 of its level in 10 of them), its other statements keep their rate, and the root
    logs no extra ERROR line."""
    case, incident = _case(demo_synth, "exception")
    spans, logs = _after(case, incident)
    reference = (incident.baseline_spans, incident.baseline_logs, SERVICE)
    assert _lines_per_request(spans, logs, SERVICE, True) <= _lines_per_request(*reference, True) + 0.05
    now, before = _statement_rates(spans, logs, SERVICE), _statement_rates(*reference)
    kept = {statement: now.get(statement, 0.0) / rate for statement, rate in before.items() if rate >= 0.5}
    assert sorted(kept.values())[0] < 0.1 and sorted(kept.values())[1] > 0.8


def test_wrong_return_logs_errors_in_the_faulty_service_itself(demo_synth):
    """As in the real Train-Ticket returns: the root logs its own ERROR lines for the wrong answers."""
    case, incident = _case(demo_synth, "return")
    spans, logs = _after(case, incident)
    reference = _lines_per_request(incident.baseline_spans, incident.baseline_logs, SERVICE, True)
    assert _lines_per_request(spans, logs, SERVICE, True) > reference + 0.3


def _ending_after(spans, service, callers):
    """Share of the callers' requests whose last call went to `service`."""
    shapes = [shape for (entity, _), shape in request_shapes(spans).items() if entity in callers]
    return sum(shape.count * shape.endings.get(service, 0.0) for shape in shapes) / sum(s.count for s in shapes)


def _ending_rise(demo_synth, fault_type):
    """Per service the callers of the labelled one call: how much more of their requests now end right after it."""
    case, incident = _case(demo_synth, fault_type)
    spans, _ = _after(case, incident)
    callers = {caller for caller, callee in span_edges(incident.baseline_spans) if callee == SERVICE}
    return {service: _ending_after(spans, service, callers) - _ending_after(incident.baseline_spans, service, callers)
            for service in {callee for caller, callee in span_edges(incident.baseline_spans) if caller in callers}}


def test_a_wrong_return_ends_its_callers_requests_at_the_faulty_services_answer(demo_synth):
    """As in the real Online Boutique code faults: the error reaches the caller, which stops its handling there, so
    more of the callers' requests now end right after the labelled service answered, and no other's do."""
    rise = _ending_rise(demo_synth, "return")
    assert max(rise, key=rise.get) == SERVICE and rise[SERVICE] > 0.1


def test_a_train_ticket_exception_leaves_its_callers_requests_whole(demo_synth):
    """As in the real Train-Ticket exceptions: the callers went on (their spans per call into the root .99 to 1.29
    of their level), so no more of their requests end right after the labelled service."""
    assert _ending_rise(demo_synth, "exception")[SERVICE] < 0.05


def test_no_telemetry_file_names_the_fault(demo_synth):
    out, _ = demo_synth
    words = ("network_delay", "network_loss", "cpu_contention", "cpu_consumed", "memory_leak", "inject", "synth")
    for path in out.glob("*_data/*/*/*"):
        text = (gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()).decode().lower()
        assert not any(word in text for word in words), path


def test_same_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path):
    for name, seed in (("a", 9), ("b", 9), ("c", 10)):
        generate(tmp_path / name, seed=seed, faults="network_loss,exception")
    files = sorted(path.relative_to(tmp_path / "a") for path in (tmp_path / "a").rglob("*") if path.is_file())
    assert files == sorted(path.relative_to(tmp_path / "b") for path in (tmp_path / "b").rglob("*") if path.is_file())
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    assert (tmp_path / "a" / "cases.csv").read_bytes() != (tmp_path / "c" / "cases.csv").read_bytes()


def test_a_generated_folder_says_how_it_was_made_for_the_manifests_of_what_trains_on_it(demo_synth, tmp_path):
    from engine.synth.provenance import how_made

    out, _ = demo_synth
    assert how_made(out).startswith("Made by `rca-tui synth`") and "seed 5" in how_made(out)
    assert how_made(tmp_path) == ""
