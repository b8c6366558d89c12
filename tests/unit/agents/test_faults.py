"""Fault injection: the spec is validated, the fault strikes where asked, the run records who / when, and the
faults look like real mistakes (no fixed wording, numbers from the telemetry)."""
import re
from collections import Counter

import pytest

from engine.agents.faults import MODES, TEMPLATES, FaultSpec
from engine.clock import FixedClock
from engine.reasoners.heuristic import HeuristicReasoner
from engine.runs.runner import run_incident
from engine.runs.session import Session
from engine.runs.trajectory import trajectory_steps


@pytest.mark.parametrize("text, message", [
    ("oracle:1:hallucinate", "unknown agent 'oracle'"),
    ("data_detective:x:hallucinate", "STEP must be a number"),
    ("data_detective:1:lie", "MODE must be one of"),
    ("data_detective:1", "AGENT:STEP:MODE"),
])
def test_bad_fault_specs_say_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        FaultSpec.parse(text)


def test_hallucinating_oracle_proposes_the_decoy_first_and_is_labelled(session, incident):
    result = run_incident(session, incident, HeuristicReasoner(),
                          fault=FaultSpec.parse("probability_oracle:0:hallucinate"))
    fault = result["injected_fault"]
    assert result["proposals"][0]["root_cause"] == fault["decoy"] != "redis"
    steps = trajectory_steps(session.run_events(result["run_id"]))
    struck = steps[fault["trajectory_step"]]
    assert struck["agent"] == "probability_oracle" and fault["decoy"] in struck["content"]


def test_vote_against_flips_the_agents_votes(session, incident):
    honest = run_incident(session, incident, HeuristicReasoner())
    faulty = run_incident(session, incident, HeuristicReasoner(),
                          fault=FaultSpec.parse("dependency_explorer:0:vote_against"))

    def votes_of(result):
        return [v["option"] for p in result["proposals"] for v in p["votes"] if v["voter"] == "dependency_explorer"]

    assert votes_of(honest) == ["for"] and votes_of(faulty) == ["against"]
    step = trajectory_steps(session.run_events(faulty["run_id"]))[faulty["injected_fault"]["trajectory_step"]]
    assert step["kind"] == "tx" and step["content"].startswith("Vote against")


NUMBER = re.compile(r"(?<![\w.])\d+\.\d+")
WORD = re.compile(r"<[en]>|[a-z_]+|[^\sa-z_0-9.<>]")
VOTE_OPTION = re.compile(r"^Vote \w+: ")


def _shingles(text: str, names: list[str], n: int = 4) -> set[tuple[str, ...]]:
    """Word n-grams with the telemetry's names (entities, metrics) and numbers masked: what stays is the wording."""
    text = VOTE_OPTION.sub("", text).lower()  # the option a vote takes is the fault itself, not its wording
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name.lower(), " <e> ")
    words = WORD.findall(re.sub(r"\d+(\.\d+)?(e-?\d+)?", " <n> ", text))
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def _texts(tmp_path, incident, name: str, seed: int = 0, fault: FaultSpec | None = None) -> list[str]:
    """An honest run's steps; a faulty run's injected steps (the struck answer, or the faulty agent's votes)."""
    session = Session(tmp_path / f"{name}.db", clock=FixedClock())
    result = run_incident(session, incident, HeuristicReasoner(), seed=seed, fault=fault)
    steps = trajectory_steps(session.run_events(result["run_id"]))
    if fault is None:
        return [step["content"] for step in steps]
    struck = result["injected_fault"]["trajectory_step"]
    if fault.mode == "vote_against":
        return [s["content"] for s in steps if s["agent"] == fault.agent and s["content"].startswith("Vote")]
    return [steps[struck - 1]["content"], steps[struck]["content"]]  # its thought and its answer


def _wording(texts: list[str], incident) -> set:
    names = [*incident.entities, *{metric for series in incident.metrics.values() for metric in series.values}]
    return set().union(*(_shingles(text, names) for text in texts))


@pytest.mark.parametrize("mode", MODES)
def test_no_fixed_phrase_marks_a_modes_faults(tmp_path, incident, mode):
    """A constant marker would appear in every faulty run of a mode and in no honest run. Across the mode's
    templates and agents, no wording that honest runs never contain is shared by more than a third of its runs."""
    honest = set().union(*(_wording(_texts(tmp_path, incident, f"honest{seed}", seed), incident)
                           for seed in range(3)))
    faulty = [_wording(_texts(tmp_path, incident, f"{agent}{template}", fault=FaultSpec(agent, 0, mode, template)),
                       incident)
              for agent in ("probability_oracle", "data_detective", "dependency_explorer")
              for template in range(TEMPLATES)]
    counts = Counter(shingle for run in faulty for shingle in run - honest)
    shared = {" ".join(shingle): count for shingle, count in counts.items() if count > len(faulty) / 3}
    assert not shared, f"phrases only faulty {mode} runs write, in more than a third of them: {shared}"


def test_misreported_numbers_come_from_the_telemetry(session, incident):
    """Every number in the misreporting oracle's answer is one the run's tool outputs showed before it."""
    result = run_incident(session, incident, HeuristicReasoner(),
                          fault=FaultSpec("probability_oracle", 2, "misreport", 0))
    steps = trajectory_steps(session.run_events(result["run_id"]))
    struck = result["injected_fault"]["trajectory_step"]
    seen = {float(n) for step in steps[:struck] for n in NUMBER.findall(step["content"])}
    written = {float(n) for n in NUMBER.findall(steps[struck]["content"])}
    assert written and written <= seen | {float(round(n, 2)) for n in seen}
