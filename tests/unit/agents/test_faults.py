"""Fault injection: the spec is validated, the fault strikes where asked, the run records who / when, and the
faults look like real mistakes (no fixed wording, numbers from the telemetry)."""
import re
from collections import Counter

import pytest

from engine.agents.faults import MODES, TEMPLATES, FaultSpec, _retargeted
from engine.agents.tools import Toolbox
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


@pytest.mark.parametrize("agent", ["probability_oracle", "data_detective"])
def test_misreported_numbers_come_from_the_telemetry(session, incident, agent):
    """Every number in a misreporting agent's answer is one the run's tool outputs showed before it."""
    result = run_incident(session, incident, HeuristicReasoner(), fault=FaultSpec(agent, 2, "misreport", 0))
    steps = trajectory_steps(session.run_events(result["run_id"]))
    struck = result["injected_fault"]["trajectory_step"]
    seen = {float(n) for step in steps[:struck] for n in NUMBER.findall(step["content"])}
    written = {float(n) for n in NUMBER.findall(steps[struck]["content"])}
    assert written and written <= seen | {float(round(n, 2)) for n in seen}


def _oracle_ranking(session, result) -> tuple[dict, list[str]]:
    """The oracle's rank_candidates call (its args) and the entities it returned, in order."""
    events = session.run_events(result["run_id"])
    action = next(e.payload for e in events if e.kind == "agent_action" and e.payload["action"] == "rank_candidates")
    observed = next(e.payload for e in events if e.kind == "observation" and e.payload["tool"] == "rank_candidates")
    return action["args"], [c["entity"] for c in observed["result"]["candidates"]]


def test_honest_reports_leave_the_oracles_ranking_as_the_tools_give_it(session, incident):
    """The oracle ranks over the detective's readings and the explorer's map; honest ones are the tools' own."""
    result = run_incident(session, incident, HeuristicReasoner())
    args, ranked = _oracle_ranking(session, result)
    assert set(args) == {"k", "readings", "reach"} and args["reach"]["frontend"] == ["cart", "redis"]
    assert ranked == [c["entity"] for c in Toolbox(incident).rank_candidates()["candidates"]]
    assert result["root_cause"] == "redis"


def test_a_misreporting_detective_turns_the_consensus(session, incident):
    """The detective's wrong readings are what the oracle ranks over: the consensus goes to the decoy, and the
    label points at the detective's answer, before the oracle's first step."""
    result = run_incident(session, incident, HeuristicReasoner(), fault=FaultSpec("data_detective", 9, "misreport", 0))
    fault = result["injected_fault"]
    assert result["root_cause"] == fault["decoy"] == "cart" == _oracle_ranking(session, result)[1][0]
    steps = trajectory_steps(session.run_events(result["run_id"]))
    struck = steps[fault["trajectory_step"]]
    assert struck["agent"] == "data_detective" and struck["content"].startswith("Answer:")
    assert fault["trajectory_step"] < next(i for i, s in enumerate(steps) if s["agent"] == "probability_oracle")


def test_a_misreporting_explorers_map_is_what_the_oracle_ranks_over(session, incident):
    """The explorer puts the decoy where the leader is: the oracle takes the leader for unreachable from the alert
    and halves its score (here not enough to pass it: redis's CPU is four times its normal level)."""
    honest = Toolbox(incident).rank_candidates()["candidates"][0]
    result = run_incident(session, incident, HeuristicReasoner(),
                          fault=FaultSpec("dependency_explorer", 9, "misreport", 0))
    args, _ = _oracle_ranking(session, result)
    assert args["reach"]["frontend"] == ["cart"]
    observed = next(e.payload["result"]["candidates"] for e in session.run_events(result["run_id"])
                    if e.kind == "observation" and e.payload["tool"] == "rank_candidates")
    assert observed[0]["entity"] == honest["entity"] == "redis" and observed[0]["score"] < honest["score"]


def test_retargeting_renames_whole_names_only():
    answer = {"cart": ["cart", "cartservice", "redis"], "summary": "cart calls cartservice; cart.", "n": 2}
    assert _retargeted(answer, "cart", "redis") == {"redis": ["redis", "cartservice"],
                                                    "summary": "redis calls cartservice; redis.", "n": 2}
