"""Per-step features for the learned tracer. Every feature is read from the trajectory itself (its text, its
structure, the SLM's white-box signals), never from an agent's name, so a model cannot just learn which agent
usually fails. The same groups, pooled per agent, feed the agent scorer (:func:`agent_features`). Groups can be switched off
for ablations:

* ``position``: where the step is and how often its agent has spoken (the structural prior);
* ``text``: what the step and the step after it say (errors, code, made-up data, the final answer);
* ``slm``: surprisal, anomaly, attention in/out mass, influence from the failure step;
* ``ground_truth``: whether the step states the known correct answer (only "with GT");
* ``rank``: the step's percentile rank within its own trajectory's candidates on the main text and SLM signals,
  so a scorer compares steps of one run with each other rather than with other runs' scales (which differ between
  Who&When's subsets);
* ``counterfactual``: the final claim's response to removing the step (see ``counterfactual``);
* ``grounding``: whether the readings a step reports for an entity are the ones the run's earlier tool outputs
  showed for it, and the first step (and the first report: answer or vote) where they are not (see ``grounding``;
  0 where the tool outputs name no entity, as in Who&When).
* ``feedback``: how the run's own later turns judged the step and its agent: whether the next other agent to
  speak rejects it (the feedback tracer's signal as a per-step feature), where it sits against the first rejected
  step and among its agent's own turns, whether it first carries the final claim; pooled per agent as how often the
  agent's steps are rejected;
* ``own_rank``: the step's percentile rank among its own agent's candidate steps (position, surprisal, anomaly,
  novel numbers, claim share, echo, length), what the step scorer compares when it ranks one agent's steps;
* ``novelty``: what the step states that neither the question nor earlier tool output contained (numbers, words
  of the final claim), and whether it is the first to state such a claim word.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import numpy as np

from engine.attribution.analysis import Analysis
from engine.attribution.counterfactual import claim_step, claim_support
from engine.attribution.detector import zscore
from engine.attribution.grounding import audit, number_forms
from engine.attribution.tracer import minmax

FEATURE_GROUPS = ("position", "text", "slm", "ground_truth", "rank", "counterfactual", "feedback", "own_rank",
                  "novelty", "grounding")
DEFAULT_GROUPS = ("position", "text", "ground_truth", "feedback", "own_rank", "novelty")
"""The learned tracer's default since session 10 (issue 13). The SLM's signals enter as ranks within the step's own
agent (``own_rank``), not as the ``slm`` group's z-scores. Chosen among 20 variants on the dev split (5-fold x seeds
0 1 2, both subsets, and train-on-one-subset / test-on-the-other; README, "Failure attribution on Who&When"):
who / when Hand-Crafted .621 / .172 -> .655 / .218, Algorithm-Generated .667 / .397 -> .672 / .413 against the
previous default (position, text, slm, ground_truth)."""
PREVIOUS_DEFAULT_GROUPS = ("position", "text", "slm", "ground_truth")
_ERROR = re.compile(r"\b(error|exception|traceback|failed|exitcode: [1-9]|not found|unable to|cannot)\b", re.I)
_CODE = re.compile(r"```|\bdef |\bimport |\bprint\(")
_MADE_UP = re.compile(r"\b(assume|assuming|hypothetical|placeholder|example data|simulat\w*|mock|dummy)\b", re.I)
_FINAL = re.compile(r"\b(final answer|TERMINATE|in conclusion|the answer is)\b", re.I)
_AGREES = re.compile(r"\b(i agree|agreed|confirm\w*|verified|looks (?:good|correct)|is correct|well done)\b", re.I)
_NO_PROGRESS_VERDICT = (r'"is_progress_being_made"\s*:\s*\{[^}]*"answer"\s*:\s*false|'
                        r'"is_in_loop"\s*:\s*\{[^}]*"answer"\s*:\s*true')
_LEDGER_NO_PROGRESS = re.compile(_NO_PROGRESS_VERDICT, re.I)
_NEGATIVE_FEEDBACK = re.compile(
    r"\b(unable to|did not|didn't|failed|incorrect|wrong|no relevant|not (?:found|relevant|helpful|correct)|"
    r"in a loop|stuck|irrelevant|mistake)\b|" + _NO_PROGRESS_VERDICT,
    re.I,
)
_NOT_REPLIES = ("query", "observation")
_ACTING = "message"
_WORD = re.compile(r"[a-z0-9]+")
_VOTE = re.compile(r"Vote (for|against)\b", re.I)
_NUMBER = re.compile(r"(?<![\d.])\d+(?:\.\d+)?")


def feature_names(groups: tuple[str, ...]) -> list[str]:
    names = {
        "position": ["rel_position", "log_position", "candidate_rank_0", "candidate_rank_1", "candidate_rank_2",
                     "agent_turn_log", "agent_first_turn", "agent_second_turn", "agent_third_turn", "agent_share", "kind_thought", "kind_action", "agent_opens"],
        "text": ["log_chars", "has_code", "has_error", "next_has_error", "made_up_data", "final_marker",
                 "query_overlap", "numbers_log", "agrees", "negative_feedback_next", "negative_feedback_within_3",
                 "last_before_first_negative", "novel_numbers_log", "novel_number_share",
                 "echo_share", "final_claim_share", "final_claim_first",
                 "dissenting_vote"],
        "slm": ["nll_mean_z", "nll_max_z", "anomaly", "reconstruction_z", "prototype_z", "influence",
                "rule_score", "out_attention_z", "in_attention_z", "kept"],
        "ground_truth": ["gt_in_step", "gt_word_recall", "gt_first_mention"],
        "rank": [f"rank_{name}" for name in _RANKED],
        "counterfactual": ["cf_tested", "cf_mask_delta_z", "cf_grad_input_z", "cf_support"],
        "grounding": ["misattributed_log", "misattributed_share", "unseen_log", "map_mismatch_log", "first_divergence",
                      "first_diverging_report", "echoed_log"],
        "feedback": ["rejected_by_reply", "ledger_no_progress_reply", "first_rejected", "before_first_rejection",
                     "after_first_rejection", "own_turn_share", "agent_rejected_before_log", "first_claim_carrier"],
        "own_rank": [f"own_rank_{name}" for name in _OWN_RANKED],
        "novelty": ["ungrounded_numbers_log", "ungrounded_number_share", "ungrounded_claim_share",
                    "first_ungrounded_claimer"],
    }
    return [name for group in groups for name in names[group]]


def node_features(analysis: Analysis, groups: tuple[str, ...], with_ground_truth: bool) -> np.ndarray:
    builders = {"position": _position, "text": _text, "slm": _slm, "ground_truth": _ground_truth, "rank": _rank,
                "counterfactual": _counterfactual, "feedback": _feedback, "own_rank": _own_rank,
                "novelty": _novelty, "grounding": _grounding}
    columns = []
    for group in groups:
        block = builders[group](analysis)
        if group == "ground_truth" and not with_ground_truth:
            block = np.zeros_like(block)
        columns.append(block)
    return np.concatenate(columns, axis=1).astype(np.float32)


def _position(analysis: Analysis) -> np.ndarray:
    steps, candidates = analysis.trajectory.steps, analysis.candidates
    n = len(steps)
    candidate_indices = np.nonzero(candidates)[0]
    shares = Counter(steps[i].agent for i in candidate_indices)
    opener = steps[candidate_indices[0]].agent
    rank = np.cumsum(candidates) - 1
    turns: Counter = Counter()
    rows = []
    for step in steps:
        rows.append([
            step.index / max(1, n - 1),
            np.log1p(step.index),
            float(candidates[step.index] and rank[step.index] == 0),
            float(candidates[step.index] and rank[step.index] == 1),
            float(candidates[step.index] and rank[step.index] == 2),
            np.log1p(turns[step.agent]),
            float(turns[step.agent] == 0),
            float(turns[step.agent] == 1),
            float(turns[step.agent] == 2),
            shares[step.agent] / len(candidate_indices),
            float(step.kind == "thought"),
            float(step.kind == "action"),
            float(step.agent == opener),
        ])
        turns[step.agent] += 1
    return np.array(rows)


def _text(analysis: Analysis) -> np.ndarray:
    steps = analysis.trajectory.steps
    query_words = set(_WORD.findall(analysis.trajectory.query.lower()))
    negative = np.array([gives_negative_feedback(s.content) and s.kind != "query" for s in steps])
    culprit_before_first = _last_other_candidate_before(analysis, int(np.argmax(negative)) if negative.any() else -1)
    novel = novel_numbers(analysis.trajectory)
    echo = echo_shares(analysis.trajectory)
    claim = final_claim_shares(analysis.trajectory)
    claim_first = first_claimer(claim)
    dissent = dissenting_votes(analysis.trajectory)
    rows = []
    for step in steps:
        following = steps[step.index + 1].content if step.index + 1 < len(steps) else ""
        words = set(_WORD.findall(step.content.lower()))
        rows.append([
            np.log1p(len(step.content)),
            float(bool(_CODE.search(step.content))),
            float(bool(_ERROR.search(step.content))),
            float(bool(_ERROR.search(following))),
            float(bool(_MADE_UP.search(step.content))),
            float(bool(_FINAL.search(step.content))),
            len(words & query_words) / max(1, len(query_words)),
            np.log1p(len(re.findall(r"\d+(?:\.\d+)?", step.content))),
            float(bool(_AGREES.search(step.content))),
            float(negative[step.index + 1]) if step.index + 1 < len(steps) else 0.0,
            float(negative[step.index + 1: step.index + 4].any()),
            float(step.index == culprit_before_first),
            np.log1p(novel[step.index][0]),
            novel[step.index][0] / max(1, novel[step.index][1]),
            echo[step.index],
            claim[step.index],
            float(step.index == claim_first),
            float(step.index in dissent),
        ])
    return np.array(rows)


_CLAIM_WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
_FILLER = set("the a an of to and in is are was were be been for on with that this it as by at from or we i you our "
              "your have has had will can not no yes all any each which who what when where how there their they them "
              "its into than then so if but also let us final answer terminate conclusion result results task step "
              "steps based verify verified correct".split())


def final_claim_shares(trajectory) -> np.ndarray:
    """Per agent step: the share of the final claim's distinctive words (not in the question, not filler) that the
    step already says. The run failed, so its final claim is wrong; the step that first makes it is suspect."""
    question = question_words(trajectory)
    agent_steps = [s for s in trajectory.steps if s.kind not in ("query", "observation")]
    claim = claim_step(trajectory)
    final = distinctive_words(trajectory.steps[claim].content, question) if claim is not None else set()
    shares = np.zeros(len(trajectory.steps))
    if not final:
        return shares
    for step in agent_steps:
        shares[step.index] = len(distinctive_words(step.content, question) & final) / len(final)
    return shares


def question_words(trajectory) -> set[str]:
    return set(_CLAIM_WORD.findall(trajectory.query.lower()))


def distinctive_words(text: str, question: set[str]) -> set[str]:
    """The words (and numbers) of ``text`` that are neither in the question nor filler."""
    return {w for w in _CLAIM_WORD.findall(text.lower())
            if w not in question and w not in _FILLER and (len(w) > 2 or w.isdigit())}


def first_claimer(shares: np.ndarray) -> int:
    """The first step saying at least half of what the most complete one says (-1 when none says any)."""
    return int(np.argmax(shares >= 0.5 * shares.max())) if shares.max() > 0 else -1


def gives_negative_feedback(text: str) -> bool:
    """Whether a step says that what came before failed, was wrong or made no progress (a Magentic-One ledger's
    "is_progress_being_made": false or "is_in_loop": true counts)."""
    return bool(_NEGATIVE_FEEDBACK.search(text))


def ledger_says_no_progress(text: str) -> bool:
    """Whether a step is a Magentic-One ledger judging "is_progress_being_made": false or "is_in_loop": true."""
    return bool(_LEDGER_NO_PROGRESS.search(text))


def replies(trajectory, not_replies: tuple[str, ...] = _NOT_REPLIES) -> list[int]:
    """Per step: its reply, the next step by another agent whose kind is not in ``not_replies`` (by default the
    question and tool output are no replies); -1 when none follows."""
    steps = trajectory.steps
    return [next((later.index for later in steps[step.index + 1:]
                  if later.agent != step.agent and later.kind not in not_replies), -1) for step in steps]


def rejected_steps(trajectory, rejects: Callable[[str], bool] = gives_negative_feedback,
                   not_replies: tuple[str, ...] = _NOT_REPLIES) -> np.ndarray:
    """Per step: whether its reply (see :func:`replies`) ``rejects`` it."""
    return np.array([reply >= 0 and rejects(trajectory.steps[reply].content)
                     for reply in replies(trajectory, not_replies)], dtype=bool)


def rejected_acting_steps(trajectory, rejects: Callable[[str], bool] = gives_negative_feedback,
                          not_replies: tuple[str, ...] = _NOT_REPLIES) -> np.ndarray:
    """Per step: whether it is an acting step (kind ``message``: an agent's own turn) whose reply rejects it."""
    acting = np.array([step.kind == _ACTING for step in trajectory.steps], dtype=bool)
    return rejected_steps(trajectory, rejects, not_replies) & acting


def first_rejected_step(trajectory, rejects: Callable[[str], bool] = gives_negative_feedback,
                        not_replies: tuple[str, ...] = _NOT_REPLIES) -> int:
    """The first acting step whose reply rejects it; -1 when none is."""
    rejected = rejected_acting_steps(trajectory, rejects, not_replies)
    return int(np.argmax(rejected)) if rejected.any() else -1


def first_earlier_carrier(trajectory) -> int:
    """The first agent step before the final claim that says at least half of what the most complete of those
    steps says of the claim (the claim step says all of itself, so it is left out of that maximum); the claim step
    when no earlier step says any of it; -1 when the run has no claim."""
    claim = claim_step(trajectory)
    if claim is None:
        return -1
    shares = final_claim_shares(trajectory)
    shares[claim:] = 0.0
    first = first_claimer(shares)
    return first if first >= 0 else claim


def dissenting_votes(trajectory) -> set[int]:
    """Steps casting a vote ("Vote for: ..." / "Vote against: ...") on the side fewer voters took on that proposal
    (the votes after one "Propose ..." step and before the next)."""
    rounds: list[dict[int, str]] = [{}]
    for step in trajectory.steps:
        if step.kind != "tx":
            continue
        if step.content.startswith("Propose"):
            rounds.append({})
        elif match := _VOTE.match(step.content):
            rounds[-1][step.index] = match.group(1).lower()
    dissent = set()
    for votes in rounds:
        tally = Counter(votes.values())
        dissent |= {index for index, option in votes.items() if tally[option] < max(tally.values())}
    return dissent


def novel_numbers(trajectory) -> list[tuple[int, int]]:
    """Per step: (numbers no earlier step or the question showed, numbers in the step). A number counts as shown
    when an earlier one rounds to it (0.29 is read off 0.2903). Made-up figures are the typical hallucination."""
    shown = _number_forms(_NUMBER.findall(trajectory.query))
    counts = []
    for step in trajectory.steps:
        numbers = _NUMBER.findall(step.content)
        counts.append((sum(number not in shown for number in numbers), len(numbers)))
        shown |= _number_forms(numbers)
    return counts


def echo_shares(trajectory) -> list[float]:
    """Per step: the share of its word trigrams that an earlier agent step (not the question, not tool output)
    already said. A step that repeats a claim passes it on; the step that first made it is where it came from."""
    said: set = set()
    shares = []
    for step in trajectory.steps:
        words = _WORD.findall(step.content.lower())
        trigrams = set(zip(words, words[1:], words[2:]))
        shares.append(len(trigrams & said) / len(trigrams) if trigrams else 0.0)
        if step.kind not in ("query", "observation"):
            said |= trigrams
    return shares


def _number_forms(numbers: list[str]) -> set[str]:
    return set().union(*(number_forms(number) for number in numbers))


def _last_other_candidate_before(analysis: Analysis, feedback: int) -> int:
    """The last candidate step before ``feedback`` spoken by another agent than the one giving the feedback."""
    steps = analysis.trajectory.steps
    for index in range(feedback - 1, -1, -1):
        if analysis.candidates[index] and steps[index].agent != steps[feedback].agent:
            return index
    return -1


def _slm(analysis: Analysis) -> np.ndarray:
    features, kept = analysis.features, analysis.features.kept
    out_mass = analysis.graph.sum(axis=1)
    in_mass = features.attention.sum(axis=0)
    return np.stack([
        zscore(features.nll_mean, kept),
        zscore(features.nll_max, kept),
        analysis.anomaly.total,
        zscore(analysis.anomaly.reconstruction, kept),
        zscore(analysis.anomaly.prototype, kept),
        minmax(analysis.influence, analysis.candidates),
        np.where(np.isfinite(analysis.rule_score), analysis.rule_score, 0.0),
        zscore(out_mass, kept),
        zscore(in_mass, kept),
        kept.astype(float),
    ], axis=1)


_RANKED = ("nll_mean", "nll_max", "anomaly", "influence", "rule_score", "out_attention", "in_attention",
           "novel_numbers", "final_claim_share", "echo_share", "length", "position")


def _rank(analysis: Analysis) -> np.ndarray:
    text, slm = _text(analysis), _slm(analysis)
    features = analysis.features
    signals = {
        "nll_mean": features.nll_mean, "nll_max": features.nll_max, "anomaly": analysis.anomaly.total,
        "influence": analysis.influence, "rule_score": slm[:, _SLM["rule_score"]],
        "out_attention": analysis.graph.sum(axis=1), "in_attention": features.attention.sum(axis=0),
        "novel_numbers": text[:, _TEXT["novel_numbers_log"]], "final_claim_share": text[:, _TEXT["final_claim_share"]],
        "echo_share": text[:, _TEXT["echo_share"]], "length": text[:, _TEXT["log_chars"]],
        "position": np.arange(len(analysis.trajectory.steps), dtype=float),
    }
    return np.stack([percentile_rank(signals[name], analysis.candidates) for name in _RANKED], axis=1)


_OWN_RANKED = ("position", "nll_mean", "anomaly", "novel_numbers", "final_claim_share", "echo_share", "length")


def _own_rank(analysis: Analysis) -> np.ndarray:
    """Each signal's percentile rank among the candidate steps of the step's own agent (the step scorer compares
    the steps of one agent)."""
    text = _text(analysis)
    signals = {
        "position": np.arange(len(analysis.trajectory.steps), dtype=float),
        "nll_mean": analysis.features.nll_mean, "anomaly": analysis.anomaly.total,
        "novel_numbers": text[:, _TEXT["novel_numbers_log"]], "final_claim_share": text[:, _TEXT["final_claim_share"]],
        "echo_share": text[:, _TEXT["echo_share"]], "length": text[:, _TEXT["log_chars"]],
    }
    agents = np.array([step.agent for step in analysis.trajectory.steps])
    ranks = np.zeros((len(agents), len(_OWN_RANKED)))
    for agent in set(agents):
        own = analysis.candidates & (agents == agent)
        ranks[own] = np.stack([percentile_rank(signals[name], own) for name in _OWN_RANKED], axis=1)[own]
    return ranks


def _novelty(analysis: Analysis) -> np.ndarray:
    """Per step: what it states that neither the question nor earlier tool output (observations) contained —
    numbers, and words of the final claim. Other agents' statements do not ground a step: they may be made up too."""
    trajectory = analysis.trajectory
    question = question_words(trajectory)
    claim = claim_step(trajectory)
    final = distinctive_words(trajectory.steps[claim].content, question) if claim is not None else set()
    shown_numbers = _number_forms(_NUMBER.findall(trajectory.query))
    shown_words: set[str] = set()
    rows, claimed = [], False
    for step in trajectory.steps:
        numbers = _NUMBER.findall(step.content)
        ungrounded = sum(number not in shown_numbers for number in numbers)
        claim_words = (distinctive_words(step.content, question) & final) - shown_words
        share = len(claim_words) / len(final) if final else 0.0
        agent_step = step.kind not in _NOT_REPLIES
        first = agent_step and share > 0 and not claimed
        rows.append([np.log1p(ungrounded) if agent_step else 0.0, ungrounded / max(1, len(numbers)) if agent_step else 0.0,
                     share if agent_step else 0.0, float(first)])
        claimed |= first
        if step.kind == "observation":
            shown_numbers |= _number_forms(numbers)
            shown_words |= distinctive_words(step.content, question)
    return np.array(rows)


def percentile_rank(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Rank among the ``mask`` steps scaled to [0, 1] (ties share their mean rank); 0 outside the mask."""
    ranks = np.zeros(len(values))
    selected = np.nonzero(mask)[0]
    if len(selected) < 2:
        return ranks
    order = values[selected]
    below = (order[None, :] < order[:, None]).sum(axis=1)
    equal = (order[None, :] == order[:, None]).sum(axis=1)
    ranks[selected] = (below + (equal - 1) / 2) / (len(selected) - 1)
    return ranks


def _counterfactual(analysis: Analysis) -> np.ndarray:
    effects = analysis.effects
    return np.stack([effects.tested.astype(float), zscore(effects.mask_delta, effects.tested),
                     zscore(effects.grad_input, effects.tested), claim_support(effects)], axis=1)


def _grounding(analysis: Analysis) -> np.ndarray:
    grounding = audit(analysis.trajectory)
    first, first_report = grounding.first_divergence(), grounding.first_diverging_report()
    indices = np.arange(len(analysis.trajectory.steps))
    return np.stack([np.log1p(grounding.misattributed), grounding.misattributed_share, np.log1p(grounding.unseen),
                     np.log1p(grounding.dropped + grounding.unsupported), (indices == first).astype(float),
                     (indices == first_report).astype(float), np.log1p(grounding.echoed)], axis=1)


def _feedback(analysis: Analysis) -> np.ndarray:
    trajectory = analysis.trajectory
    agent_step = np.array([step.kind not in _NOT_REPLIES for step in trajectory.steps], dtype=bool)
    rejected = rejected_steps(trajectory) & agent_step
    no_progress = rejected_steps(trajectory, ledger_says_no_progress) & agent_step
    first, carrier = first_rejected_step(trajectory), first_earlier_carrier(trajectory)
    own_total = Counter(step.agent for step in trajectory.steps)
    turns: Counter = Counter()
    rejected_before: Counter = Counter()
    rows = []
    for step in trajectory.steps:
        rows.append([
            float(rejected[step.index]),
            float(no_progress[step.index]),
            float(step.index == first),
            float(0 <= step.index < first),
            float(0 <= first < step.index),
            turns[step.agent] / max(1, own_total[step.agent] - 1),
            np.log1p(rejected_before[step.agent]),
            float(step.index == carrier),
        ])
        turns[step.agent] += 1
        rejected_before[step.agent] += int(rejected[step.index])
    return np.array(rows)


AGENT_COLUMNS = {
    "position": ["agent_turns_log", "agent_first_position", "agent_first_rank_log", "agent_share", "agent_opens",
                 "agent_closes"],
    "text": ["agent_any_made_up", "agent_any_next_error", "agent_any_code", "agent_agree_rate",
             "agent_any_negative_feedback_next", "agent_max_novel_numbers"],
    "slm": ["agent_mean_nll_z", "agent_max_anomaly", "agent_max_influence"],
    "ground_truth": ["agent_gt_mention"],
    "rank": ["agent_best_rule_rank", "agent_best_claim_rank"],
    "counterfactual": ["agent_max_claim_support"],
    "grounding": ["agent_max_misattributed_log", "agent_max_map_mismatch_log", "agent_first_divergence",
                  "agent_first_diverging_report"],
    "feedback": ["agent_rejected_log", "agent_rejected_share", "agent_first_rejected", "agent_first_claim_carrier"],
}
"""Per group, the agent scorer's columns; ``own_rank`` and ``novelty`` are step-level only (none)."""


_TEXT = {name: column for column, name in enumerate(feature_names(("text",)))}
_SLM = {name: column for column, name in enumerate(feature_names(("slm",)))}
_GROUNDING = {name: column for column, name in enumerate(feature_names(("grounding",)))}
_FEEDBACK = {name: column for column, name in enumerate(feature_names(("feedback",)))}
_RANK = {name: column for column, name in enumerate(_RANKED)}


def agent_feature_names(groups: tuple[str, ...]) -> list[str]:
    return [name for group in groups for name in AGENT_COLUMNS.get(group, ())]


def agent_features(analysis: Analysis, groups: tuple[str, ...], with_ground_truth: bool) -> np.ndarray:
    """One row per agent (``trajectory.agents`` order): what the agent did over its candidate steps."""
    steps, candidates = analysis.trajectory.steps, analysis.candidates
    n = len(steps)
    rank = np.cumsum(candidates) - 1
    candidate_agents = [steps[i].agent for i in np.nonzero(candidates)[0]]
    blocks = {
        "text": _text(analysis) if "text" in groups else None,
        "slm": _slm(analysis) if "slm" in groups else None,
        "ground_truth": _ground_truth(analysis) if "ground_truth" in groups else None,
        "rank": _rank(analysis) if "rank" in groups else None,
        "counterfactual": _counterfactual(analysis) if "counterfactual" in groups else None,
        "grounding": _grounding(analysis) if "grounding" in groups else None,
        "feedback": _feedback(analysis) if "feedback" in groups else None,
    }
    rows = []
    for agent in analysis.trajectory.agents:
        every = [s.index for s in steps if s.agent == agent]
        own = [i for i in every if candidates[i]] or every
        pooled = {
            "position": [np.log1p(len(own)), own[0] / max(1, n - 1), np.log1p(max(rank[own[0]], 0)),
                         candidate_agents.count(agent) / len(candidate_agents),
                         float(candidate_agents[0] == agent), float(candidate_agents[-1] == agent)],
            "text": lambda b: [b[own, _TEXT["made_up_data"]].max(), b[own, _TEXT["next_has_error"]].max(),
                               b[own, _TEXT["has_code"]].max(), b[own, _TEXT["agrees"]].mean(),
                               b[own, _TEXT["negative_feedback_next"]].max(), b[own, _TEXT["novel_numbers_log"]].max()],
            "slm": lambda b: [b[own, _SLM["nll_mean_z"]].mean(), b[own, _SLM["anomaly"]].max(),
                              b[own, _SLM["influence"]].max()],
            "ground_truth": lambda b: [b[own, 0].max() if with_ground_truth else 0.0],
            "rank": lambda b: [b[own, _RANK["rule_score"]].max(), b[own, _RANK["final_claim_share"]].max()],
            "counterfactual": lambda b: [b[own, 3].max()],
            "grounding": lambda b: [b[own, _GROUNDING["misattributed_log"]].max(),
                                    b[own, _GROUNDING["map_mismatch_log"]].max(),
                                    b[own, _GROUNDING["first_divergence"]].max(),
                                    b[own, _GROUNDING["first_diverging_report"]].max()],
            "feedback": lambda b: [np.log1p(b[every, _FEEDBACK["rejected_by_reply"]].sum()),
                                   b[every, _FEEDBACK["rejected_by_reply"]].mean(),
                                   b[every, _FEEDBACK["first_rejected"]].max(),
                                   b[every, _FEEDBACK["first_claim_carrier"]].max()],
        }
        row = []
        for group in (g for g in groups if g in AGENT_COLUMNS):
            row += pooled[group] if group == "position" else pooled[group](blocks[group])
        rows.append(row)
    return np.array(rows, dtype=np.float32)


def _ground_truth(analysis: Analysis) -> np.ndarray:
    truth = (analysis.trajectory.ground_truth or "").strip().lower()
    truth_words = set(_WORD.findall(truth))
    rows, mentioned = [], False
    for step in analysis.trajectory.steps:
        text = step.content.lower()
        present = bool(truth) and truth in text
        words = set(_WORD.findall(text))
        rows.append([float(present), len(words & truth_words) / max(1, len(truth_words)),
                     float(present and not mentioned)])
        mentioned |= present
    return np.array(rows)
