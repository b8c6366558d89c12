"""The held-out protocol of ``eval injection``: a tracer never trains on a run whose phrasing template, mode or
incident it is scored on, and the demo incident never trains."""
from pathlib import Path

import pytest

from engine.agents.faults import MODES, TEMPLATES
from engine.attribution.schema import Label, Step, Trajectory
from engine.evaluation.injection import audit_predictions, audit_scores
from engine.evaluation.injection_runs import CaseSource, _batches
from engine.evaluation.injection_split import (TEST_TEMPLATES, TRAIN_TEMPLATES, in_test, in_training,
                                               split_incidents, trains_beside)

DEMO = "tt-demo"
NEZHA = ["ob-1", "tt-2", "ob-3", "tt-4", "ob-5"]


def _run(incident: str, mode: str, template: int) -> Trajectory:
    return Trajectory(id=f"{incident}-{mode}-{template}", query="q",
                      steps=(Step(0, "probability_oracle", "action", "Answer: {}"),),
                      label=Label(who="probability_oracle", when=0),
                      meta={"incident": incident, "injected_fault": {"mode": mode, "template": template}})


def test_templates_are_split_in_two_disjoint_halves():
    assert set(TRAIN_TEMPLATES) | set(TEST_TEMPLATES) == set(range(TEMPLATES))
    assert TRAIN_TEMPLATES and TEST_TEMPLATES and not set(TRAIN_TEMPLATES) & set(TEST_TEMPLATES)


@pytest.mark.parametrize("held_out", MODES)
def test_no_run_trains_and_tests_and_the_demo_never_trains(held_out):
    split = split_incidents(DEMO, NEZHA)
    runs = [_run(incident, mode, template) for incident in (DEMO, *NEZHA) for mode in MODES
            for template in range(TEMPLATES)]
    train = [r for r in runs if in_training(r, split, held_out)]
    test = [r for r in runs if in_test(r, split, held_out)]
    assert train and test
    assert not {r.meta["incident"] for r in train} & {r.meta["incident"] for r in test}
    assert not {r.meta["injected_fault"]["template"] for r in train} & {r.meta["injected_fault"]["template"]
                                                                       for r in test}
    assert {r.meta["injected_fault"]["mode"] for r in test} == {held_out}
    assert held_out not in {r.meta["injected_fault"]["mode"] for r in train}
    assert DEMO in {r.meta["incident"] for r in test} and DEMO not in split.train


def test_each_incident_runs_only_its_sides_templates():
    split = split_incidents(DEMO, NEZHA)
    cases = [CaseSource(Path("demo"), DEMO)] + [CaseSource(Path("nezha"), case) for case in NEZHA]
    planned = [run for batch in _batches(Path("db"), cases, split, seed=0, runs=120, runs_per_db=8)
               for run in batch.runs]
    for run in planned:
        assert run.fault.template in split.templates(run.case.case_id)
    assert {run.fault.template for run in planned} == set(range(TEMPLATES))


@pytest.mark.parametrize("held_out", MODES)
def test_another_seeds_runs_train_only_off_the_test_incidents_templates_and_mode(held_out):
    split = split_incidents(DEMO, NEZHA)
    elsewhere = ["ob-7", "tt-8"]  # incidents only the other seed's study picked
    runs = [_run(incident, mode, template) for incident in (DEMO, *NEZHA, *elsewhere) for mode in MODES
            for template in range(TEMPLATES)]
    beside = [r for r in runs if trains_beside(r, split, held_out)]
    test = [r for r in runs if in_test(r, split, held_out)]
    assert {r.meta["incident"] for r in beside} == set(split.train) | set(elsewhere)
    assert {r.meta["injected_fault"]["template"] for r in beside} == set(TRAIN_TEMPLATES)
    assert held_out not in {r.meta["injected_fault"]["mode"] for r in beside}
    assert not {r.id for r in beside} & {r.id for r in test}


def _oracle_run(incident: str, template: int, answer: str) -> Trajectory:
    ranking = 'Observation from rank_candidates: {"candidates": [{"entity": "cart", "score": 0.2503}]}'
    steps = (Step(0, "data_detective", "action", 'Answer: {"findings": []}'),
             Step(1, "probability_oracle", "observation", ranking),
             Step(2, "probability_oracle", "action", answer))
    return Trajectory(id=f"{incident}-{template}", query="q", steps=steps, label=Label(who="probability_oracle", when=2),
                      meta={"incident": incident, "injected_fault": {"mode": "hallucinate", "template": template}})


def test_the_grounding_audit_names_the_first_report_that_disagrees_with_the_tools_and_else_the_first_turn():
    split = split_incidents(DEMO, NEZHA)
    made_up = _oracle_run("tt-2", TEST_TEMPLATES[0], 'Answer: {"candidates": [{"entity": "cart", "score": 0.3481}]}')
    copied = _oracle_run("ob-1", TRAIN_TEMPLATES[0], 'Answer: {"candidates": [{"entity": "cart", "score": 0.2503}]}')
    assert [(p.who, p.when) for p in audit_predictions([made_up, copied])] == [("probability_oracle", 2),
                                                                               ("data_detective", 0)]
    scores = audit_scores([made_up, copied], split)
    assert (scores["all_kept"]["n"], scores["all_kept"]["when"]) == (2, 0.5)
    assert (scores["held_out_test"]["n"], scores["held_out_test"]["when"]) == (1, 1.0)  # ob-1 trains
