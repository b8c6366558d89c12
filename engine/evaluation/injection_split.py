"""The held-out protocol of the fault-injection study: the learned tracer is trained on runs made with some phrasing
templates, some modes and some incidents, and scored on runs whose template, mode and incident it never saw.

* incidents: the Nezha cases are split in two by the study's seeded pick; the demo incident is always a test one;
* templates: runs on training incidents are made with :data:`TRAIN_TEMPLATES`, runs on test incidents with the
  others;
* modes: leave one mode out; each held-out mode is scored by a tracer trained on the other modes' training runs;
* other studies (other seeds: other case picks and fault orders) may add training runs: those made with a training
  template, of another mode, on an incident this split never tests on (:func:`trains_beside`).

Every test run is scored once (by the tracer that left its mode out); the figures are given per held-out mode, per
injected agent and pooled, each with the trivial baselines beside it: the majority-agent prior ("always the most
frequent training culprit", when = its first step) and the first-step baseline (the first agent turn).
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.agents.faults import MODES, TEMPLATES
from engine.attribution.analysis import Analysis
from engine.attribution.schema import Trajectory
from engine.evaluation.attribution import (EvalConfig, gold_of, held_out_learned, majority_agent_of,
                                           rule_predictions, scores_over_seeds)
from engine.evaluation.baselines import first_step, majority_agent, most_frequent_speaker
from engine.evaluation.metrics import Prediction

TRAIN_TEMPLATES = tuple(range(TEMPLATES // 2))
TEST_TEMPLATES = tuple(range(TEMPLATES // 2, TEMPLATES))


@dataclass(frozen=True)
class IncidentSplit:
    train: tuple[str, ...]
    test: tuple[str, ...]

    def templates(self, case_id: str) -> tuple[int, ...]:
        return TRAIN_TEMPLATES if case_id in self.train else TEST_TEMPLATES


def split_incidents(demo: str, nezha: list[str]) -> IncidentSplit:
    """Every other Nezha case (in the study's seeded order) trains; the rest and the demo are held out."""
    return IncidentSplit(train=tuple(nezha[0::2]), test=(demo, *nezha[1::2]))


def _fault(trajectory: Trajectory) -> dict:
    return trajectory.meta["injected_fault"]


def in_training(trajectory: Trajectory, split: IncidentSplit, held_out_mode: str) -> bool:
    fault = _fault(trajectory)
    return (trajectory.meta["incident"] in split.train and fault["template"] in TRAIN_TEMPLATES
            and fault["mode"] != held_out_mode)


def trains_beside(trajectory: Trajectory, split: IncidentSplit, held_out_mode: str) -> bool:
    """Whether a run of another study (another seed) may train beside this split's own training runs: a training
    template, another mode, and an incident this split never tests on (the demo is one of those)."""
    fault = _fault(trajectory)
    return (trajectory.meta["incident"] not in split.test and fault["template"] in TRAIN_TEMPLATES
            and fault["mode"] != held_out_mode)


def in_test(trajectory: Trajectory, split: IncidentSplit, held_out_mode: str) -> bool:
    fault = _fault(trajectory)
    return (trajectory.meta["incident"] in split.test and fault["template"] in TEST_TEMPLATES
            and fault["mode"] == held_out_mode)


@dataclass
class Scored:
    """Predictions of every method on some test runs, with the training majority each was scored against."""

    analyses: list[Analysis]
    majorities: list[str]
    methods: dict[str, list[list[Prediction]]]
    """method -> one prediction list per seed (one list for what nothing fitted)."""

    def pick(self, keep: list[bool]) -> Scored:
        def chosen(items: list) -> list:
            return [item for item, kept in zip(items, keep) if kept]

        return Scored(chosen(self.analyses), chosen(self.majorities),
                      {name: [chosen(run) for run in runs] for name, runs in self.methods.items()})

    def table(self, seeds) -> dict:
        golds = [gold_of(a.trajectory) for a in self.analyses]
        return {"n": len(golds), **{name: scores_over_seeds(runs, golds, self.majorities, seeds if len(runs) > 1 else [])
                                    for name, runs in self.methods.items()}}

    def extend(self, other: Scored) -> None:
        self.analyses += other.analyses
        self.majorities += other.majorities
        for name, runs in other.methods.items():
            mine = self.methods.setdefault(name, [[] for _ in runs])
            for own, more in zip(mine, runs):
                own.extend(more)


def held_out_report(analyses: list[Analysis], split: IncidentSplit, config: EvalConfig,
                    beside: list[Analysis] = ()) -> dict:
    """Leave-one-mode-out on held-out templates and incidents; per mode, per agent and pooled. ``beside``: runs of
    other studies, those that :func:`trains_beside` allows join every training set."""
    report = {"train_incidents": list(split.train), "test_incidents": list(split.test),
              "train_templates": list(TRAIN_TEMPLATES), "test_templates": list(TEST_TEMPLATES),
              "seeds": list(config.seeds), "by_held_out_mode": {}}
    pooled = Scored([], [], {})
    for mode in MODES:
        own = [a for a in analyses if in_training(a.trajectory, split, mode)]
        train = own + [a for a in beside if trains_beside(a.trajectory, split, mode)]
        test = [a for a in analyses if in_test(a.trajectory, split, mode)]
        row = {"n_train": len(train), "n_train_beside": len(train) - len(own), "n_test": len(test),
               "train_majority_agent": majority_agent_of([a.trajectory for a in train])}
        if train and test:
            scored = score_held_out(train, test, config)
            row.update(scored.table(config.seeds))
            pooled.extend(scored)
        report["by_held_out_mode"][mode] = row
    report["pooled"] = pooled.table(config.seeds) if pooled.analyses else {"n": 0}
    agents = sorted({a.trajectory.label.who for a in pooled.analyses})
    report["by_agent"] = {agent: pooled.pick([a.trajectory.label.who == agent for a in pooled.analyses])
                          .table(config.seeds) for agent in agents}
    return report


def score_held_out(train: list[Analysis], test: list[Analysis], config: EvalConfig) -> Scored:
    train_runs, test_runs = [a.trajectory for a in train], [a.trajectory for a in test]
    majority = majority_agent_of(train_runs)
    methods = {"majority_agent(train)": [majority_agent(train_runs, test_runs)],
               "first_step": [first_step(test_runs)],
               "most_frequent_speaker": [most_frequent_speaker(test_runs)],
               "rule_tracer": [rule_predictions(test, config.attribution)],
               "learned_tracer": held_out_learned(train, test, config)}
    return Scored(list(test), [majority] * len(test), methods)
