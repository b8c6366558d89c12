"""Learned-tracer approaches beyond feature-group choices (issue 13, session 11), each scored out of sample on the
Who&When dev split (prints figures; not a pass/fail test):

    python -m tests.bench.learned_approaches --data ../shared/datasets/who_when [--seeds 0 1 2]

Per approach: 5-fold x seeds on Hand-Crafted and on Algorithm-Generated, then trained on one subset and scored on
the other, who / when exact match. Every constant below was fixed before scoring; where a constant is chosen from
data (a threshold, a decoding, the source of who, a number of boosting rounds) it is chosen by inner 4-fold
cross-validation on the training part only. The approaches (all on the default feature groups):

* ``pooled``: a subset's tracer trained on its training folds plus every trajectory of the other subset;
  ``pooled, domain-augmented``: the same, each feature also copied into a per-subset column (shared weights plus
  per-subset offsets, the subset read from the trajectory's format), so what holds in one subset only stays there;
* ``hazard``: a first-mistake model: P(step t) = h_t * prod over earlier candidate steps (1 - h_s), h = sigmoid of a
  linear score, trained by the likelihood of the labelled step being the first mistake (the label is the FIRST
  decisive mistake, which a softmax over steps ignores);
* ``boosted stumps``: the step scorer as 100 rounds of depth-1 trees (shrinkage 0.1, leaf L2 1) fitted to the
  listwise softmax gradient, instead of a linear scorer;
* decodings: ``joint argmax`` (the best step of P(agent) P(step | agent), who its agent) and ``first above
  threshold`` (who = the best agent; when = its first step whose P(step | agent) reaches tau x its best, tau from
  {.1 .. 1} by inner CV) against the factorised default (the best agent's best step); and the factorised or the
  joint decoding, whichever scores better on inner CV;
* candidates: every agent step may be named (the one-window layout leaves 9 of the 29 labelled Hand-Crafted steps
  out), either for both scorers or only for the step scorer (the agent scorer keeps reading the window);
* who by inner CV: the learned agent scorer's choice or the feedback tracer's agent, whichever scores better on
  inner folds (when: the learned step scorer within that agent);
* boosted stumps with the number of rounds (10, 25, 50, 100) chosen by inner CV; as the agent scorer too;
  a small MLP step scorer (16 tanh units, listwise loss) stopped after 50 / 100 / 200 / 400 epochs by inner CV;
  bagging (25 fits on bootstrap resamples, scores averaged);
* the step's place against the first rejected step (its agent's turn just before it, its 1st / 2nd / 3rd turn
  after it, another agent's step in between, the signed distance) as extra step features.

Domain augmentation applies to both scorers' features; ``pooled step scorer only`` trains the agent scorer on the
subset's own folds and the step scorer on those plus the other subset.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from engine.attribution import learned
from engine.attribution.analysis import Analysis
from engine.attribution.claim_tracer import feedback_ranking
from engine.attribution.learned import LearnedConfig
from engine.attribution.node_features import agent_features, first_rejected_step, node_features
from engine.attribution.pipeline import AttributionConfig
from engine.evaluation.attribution import _prediction, gold_of, make_folds
from engine.evaluation.metrics import Prediction, who_when_scores
from tests.bench.learned_variants import SUBSETS, dev_analyses, every_agent_step, every_agent_step_a_candidate

TAUS = tuple(np.round(np.arange(0.1, 1.01, 0.1), 2))
CONFIG = LearnedConfig()


# ---- features (memoised per trajectory) ------------------------------------------------------------------------

_STEP_CACHE: dict = {}
_AGENT_CACHE: dict = {}


def _key(analysis: Analysis) -> tuple:
    return analysis.trajectory.meta.get("subset"), analysis.trajectory.id, analysis.candidates.tobytes()


def step_rows(analysis: Analysis, augment: bool, neighbourhood: bool = False) -> np.ndarray:
    key = _key(analysis)
    if key not in _STEP_CACHE:
        _STEP_CACHE[key] = node_features(analysis, CONFIG.groups, False)
    rows = _STEP_CACHE[key]
    if neighbourhood:
        rows = np.concatenate([rows, rejection_neighbourhood(analysis)], axis=1)
    return _augmented(rows, analysis) if augment else rows


def rejection_neighbourhood(analysis: Analysis) -> np.ndarray:
    """Per step, where it sits against the first rejected step f (feedback tracer's signal): it is the turn of f's
    agent just before f, or its 1st / 2nd / 3rd turn after f; another agent's candidate step between f and that
    agent's next turn; the signed candidate-rank distance to f over the number of candidates."""
    steps, candidates = analysis.trajectory.steps, analysis.candidates
    first = first_rejected_step(analysis.trajectory)
    rows = np.zeros((len(steps), 6))
    if first < 0:
        return rows
    rank = np.cumsum(candidates) - 1
    own = [s.index for s in steps if s.agent == steps[first].agent and candidates[s.index]]
    before = [i for i in own if i < first]
    after = [i for i in own if i > first]
    if before:
        rows[before[-1], 0] = 1.0
    for column, index in enumerate(after[:3], start=1):
        rows[index, column] = 1.0
    following = after[0] if after else len(steps)
    for index in range(first + 1, following):
        rows[index, 4] = float(candidates[index] and steps[index].agent != steps[first].agent)
    rows[:, 5] = (rank - rank[first]) / max(1, candidates.sum())
    return rows


def agent_rows(analysis: Analysis, augment: bool) -> np.ndarray:
    key = _key(analysis)
    if key not in _AGENT_CACHE:
        _AGENT_CACHE[key] = agent_features(analysis, CONFIG.groups, False)
    return _augmented(_AGENT_CACHE[key], analysis) if augment else _AGENT_CACHE[key]


def _augmented(rows: np.ndarray, analysis: Analysis) -> np.ndarray:
    """[x, x if Hand-Crafted, x if Algorithm-Generated] (Daume's frustratingly easy domain adaptation)."""
    subset = analysis.trajectory.meta.get("subset")
    return np.concatenate([rows] + [rows * float(subset == s) for s in SUBSETS], axis=1)


# ---- scorers ---------------------------------------------------------------------------------------------------

def fit_softmax(lists, seed: int):
    return learned.fit_listwise(lists, replace(CONFIG, seed=seed))


def fit_hazard(lists, seed: int):
    """Linear hazard h = sigmoid(w x): maximise log h(target) + sum over earlier masked rows of log(1 - h)."""
    import torch

    stacked = np.concatenate([rows for rows, _, _ in lists])
    mean, std = stacked.mean(0), stacked.std(0) + 1e-6
    inputs, masks, targets = learned._pad([((rows - mean) / std, mask, target) for rows, mask, target in lists])
    before = torch.arange(inputs.shape[1])[None, :] < targets[:, None]
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    layer = torch.nn.Linear(inputs.shape[-1], 1)
    optimiser = torch.optim.Adam(layer.parameters(), lr=CONFIG.learning_rate, weight_decay=CONFIG.weight_decay)
    for _ in range(CONFIG.epochs):
        optimiser.zero_grad()
        logits = layer(inputs).squeeze(-1)
        hit = torch.nn.functional.logsigmoid(logits.gather(1, targets[:, None])).squeeze(1)
        survived = (torch.nn.functional.logsigmoid(-logits) * (before & masks)).sum(1)
        (-(hit + survived).mean()).backward()
        optimiser.step()
    return learned.Scorer(mean, std, [(layer.weight.detach().numpy().T.copy(), layer.bias.detach().numpy().copy())])


@dataclass
class Stumps:
    """Boosted depth-1 trees: score = sum of leaf values."""
    splits: list[tuple[int, float, float, float]]
    rounds: int | None = None
    """Use only the first ``rounds`` trees (early stopping chosen after fitting); None: all."""
    choices: tuple[int, ...] = (10, 25, 50, 100)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        score = np.zeros(len(rows))
        for feature, threshold, left, right in self.splits[: self.rounds]:
            score += np.where(rows[:, feature] <= threshold, left, right)
        return score


def fit_stumps(lists, seed: int, rounds: int = 100, shrinkage: float = 0.1, leaf_l2: float = 1.0):
    """Gradient boosting on the listwise softmax loss (Newton leaves), candidate thresholds at feature quantiles."""
    rows = np.concatenate([r for r, _, _ in lists])
    owner = np.concatenate([np.full(len(r), i) for i, (r, _, _) in enumerate(lists)])
    mask = np.concatenate([m for _, m, _ in lists])
    target = np.zeros(len(rows))
    offsets = np.cumsum([0] + [len(r) for r, _, _ in lists])
    target[[offsets[i] + t for i, (_, _, t) in enumerate(lists)]] = 1.0
    rows, owner, target = rows[mask], owner[mask], target[mask]
    splits_at = [(j, t) for j in range(rows.shape[1])
                 for t in np.unique(np.quantile(rows[:, j], np.linspace(0.05, 0.95, 16)))]
    left = np.stack([rows[:, j] <= t for j, t in splits_at], axis=1).astype(float)
    score, splits = np.zeros(len(rows)), []
    for _ in range(rounds):
        shifted = np.exp(score - score.max())
        p = shifted / np.bincount(owner, shifted)[owner]
        gradient, hessian = p - target, np.maximum(p * (1 - p), 1e-6)
        gl, hl = gradient @ left, hessian @ left
        gr, hr = gradient.sum() - gl, hessian.sum() - hl
        best = int(np.argmax(gl * gl / (hl + leaf_l2) + gr * gr / (hr + leaf_l2)))
        j, threshold = splits_at[best]
        values = (-shrinkage * gl[best] / (hl[best] + leaf_l2), -shrinkage * gr[best] / (hr[best] + leaf_l2))
        splits.append((j, float(threshold), *values))
        score += np.where(left[:, best] > 0, values[0], values[1])
    return Stumps(splits)


@dataclass
class Snapshots:
    """A small MLP's weights after each of ``choices`` epochs; ``rounds`` picks one (default: the last)."""
    scorers: dict
    rounds: int | None = None
    choices: tuple[int, ...] = (50, 100, 200, 400)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        return self.scorers[self.rounds or max(self.scorers)](rows)


def fit_mlp_snapshots(lists, seed: int, hidden: int = 16):
    """One hidden layer (tanh), listwise softmax loss, the default's Adam and L2; weights kept at each choice."""
    import torch

    stacked = np.concatenate([rows for rows, _, _ in lists])
    mean, std = stacked.mean(0), stacked.std(0) + 1e-6
    inputs, masks, targets = learned._pad([((rows - mean) / std, mask, target) for rows, mask, target in lists])
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    network = learned._network(inputs.shape[-1], replace(CONFIG, model_type="mlp", hidden=hidden))
    optimiser = torch.optim.Adam(network.parameters(), lr=CONFIG.learning_rate, weight_decay=CONFIG.weight_decay)
    scorers = {}
    for epoch in range(1, max(Snapshots.choices) + 1):
        optimiser.zero_grad()
        logits = network(inputs).squeeze(-1).masked_fill(~masks, -1e9)
        torch.nn.functional.cross_entropy(logits, targets).backward()
        optimiser.step()
        if epoch in Snapshots.choices:
            layers = [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy())
                      for m in network if isinstance(m, torch.nn.Linear)]
            scorers[epoch] = learned.Scorer(mean, std, layers)
    return Snapshots(scorers)


# ---- the factorised tracer with pluggable scorers --------------------------------------------------------------

@dataclass(frozen=True)
class Approach:
    step_fit: Callable = fit_softmax
    step_distribution: str = "softmax"  # or "hazard"
    augment: bool = False
    pooled: bool = False
    decode: str = "factorised"  # "joint" | "threshold"
    factorised: bool = True
    all_steps: bool = False
    pooled_steps_only: bool = False
    neighbourhood: bool = False
    """The step scorer also reads :func:`rejection_neighbourhood`."""
    early_stopping: bool = False
    """Boosted or MLP step scorer only: its number of rounds / epochs by inner CV."""
    agent_fit: Callable = fit_softmax
    bags: int = 0
    """> 0: average the log-probabilities of this many fits on bootstrap resamples of the training trajectories."""
    who_choice: str = "learned"
    """or "inner_cv": the learned agent or the feedback tracer's, by inner CV; "decode_cv": factorised or joint
    argmax decoding, by inner CV."""
    when_among_all: bool = False
    """The agent scorer reads the window's candidates as before; the step scorer ranks every step of the agent."""


@dataclass
class Fitted:
    approach: Approach
    agent_scorer: object
    step_scorer: object
    tau: float = 1.0
    who_source: str = "learned"


def fit(train: list[Analysis], approach: Approach, seed: int, extra: list[Analysis] = ()) -> Fitted:
    if not approach.bags:
        return fit_once(train, approach, seed, extra)
    draws = np.random.default_rng(seed)
    members = [fit_once([train[i] for i in draws.integers(0, len(train), len(train))], approach, seed + bag, extra)
               for bag in range(approach.bags)]
    return Fitted(approach, Bagged([m.agent_scorer for m in members]), Bagged([m.step_scorer for m in members]))


@dataclass
class Bagged:
    """The mean of its members' scores (log-linear pooling: for a softmax, the geometric mean of probabilities)."""
    members: list

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        return np.mean([member(rows) for member in self.members], axis=0)


def fit_once(train: list[Analysis], approach: Approach, seed: int, extra: list[Analysis] = ()) -> Fitted:
    """Both scorers on ``train`` + ``extra``; with ``approach.pooled_steps_only`` the agent scorer on ``train`` only."""
    agent_lists, step_lists = [], []
    for analysis in list(train) + list(extra):
        agent_side = not (approach.pooled_steps_only and any(analysis is e for e in extra))
        when = analysis.trajectory.label.when
        if approach.factorised:
            who = learned.labelled_agent(analysis)
            agents = analysis.trajectory.agents
            speaking = learned._agents_with_candidates(analysis)
            speaking[agents.index(who)] = True
            if agent_side:
                agent_lists.append((agent_rows(analysis, approach.augment), speaking, agents.index(who)))
            stepped = every_agent_step(analysis) if approach.when_among_all else analysis
            own = np.array([s.agent == who for s in analysis.trajectory.steps]) & stepped.candidates
        else:
            stepped, own = analysis, analysis.candidates
        step_lists.append((step_rows(stepped, approach.augment, approach.neighbourhood),
                           learned._with_label(own, when), when))
    agent_scorer = approach.agent_fit(agent_lists, seed) if approach.factorised else None
    return Fitted(approach, agent_scorer, approach.step_fit(step_lists, seed))


def joint_scores(fitted: Fitted, analysis: Analysis) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per step: log P(agent) + log P(step | agent) (-inf off candidates), log P(step | agent), and owner index."""
    agents = analysis.trajectory.agents
    stepped = every_agent_step(analysis) if fitted.approach.when_among_all else analysis
    raw = fitted.step_scorer(step_rows(stepped, fitted.approach.augment, fitted.approach.neighbourhood))
    owner = np.array([agents.index(s.agent) for s in analysis.trajectory.steps])
    if fitted.agent_scorer is None:
        agent_log_p = np.zeros(len(agents))
        groups = [analysis.candidates]
    else:
        agent_log_p = learned._log_softmax(fitted.agent_scorer(agent_rows(analysis, fitted.approach.augment)))
        window = learned._agents_with_candidates(analysis)
        groups = [(owner == i) & stepped.candidates & window[i] for i in range(len(agents))]
    within = np.full(len(owner), -np.inf)
    for own in groups:
        if own.any():
            within[own] = _step_log_p(raw[own], fitted.approach.step_distribution)
    return agent_log_p[owner] + within, within, owner


def _step_log_p(raw: np.ndarray, distribution: str) -> np.ndarray:
    if distribution == "softmax":
        return learned._log_softmax(raw)
    hazard = 1 / (1 + np.exp(-raw))
    survive = np.concatenate([[1.0], np.cumprod(1 - hazard)[:-1]])
    return learned._log_softmax(np.log(hazard * survive + 1e-300))


def predict(fitted: Fitted, analysis: Analysis, tau: float | None = None, who_source: str | None = None) -> Prediction:
    scores, within, owner = joint_scores(fitted, analysis)
    decode = fitted.approach.decode
    if fitted.approach.when_among_all:
        analysis = every_agent_step(analysis)
    steps = analysis.trajectory.steps
    if decode == "joint" or (who_source or fitted.who_source) == "joint":
        when = int(np.argmax(scores))
        return Prediction(analysis.trajectory.id, steps[when].agent, when)
    base = _prediction(analysis, scores, AttributionConfig())
    if (who_source or fitted.who_source) == "feedback":
        flagged = feedback_ranking(analysis.trajectory)[0]
        own = np.nonzero(np.isfinite(within) & (owner == owner[flagged]))[0]
        when = int(own[np.argmax(scores[own])]) if len(own) else flagged
        base = Prediction(analysis.trajectory.id, steps[flagged].agent, when)
    if decode != "threshold":
        return base
    own = np.nonzero(np.isfinite(within) & (owner == owner[base.when]))[0]
    if not len(own):
        return base
    best = within[own].max()
    chosen = next(i for i in own if within[i] >= best + np.log(fitted.tau if tau is None else tau))
    return Prediction(analysis.trajectory.id, base.who, int(chosen))


def fit_selected(train: list[Analysis], extra: list[Analysis], approach: Approach, seed: int) -> Fitted:
    """Fit on ``train`` + ``extra``; choose tau (threshold decoding) and the who source by inner 4-fold CV over
    ``train`` (each inner fit also sees all of ``extra``; ties: the larger tau, the learned agent)."""
    fitted = fit(train, approach, seed, extra)
    if approach.early_stopping:
        return _early_stopped(fitted, train, extra, approach, seed)
    if approach.decode != "threshold" and approach.who_choice == "learned":
        return fitted
    taus = TAUS if approach.decode == "threshold" else (1.0,)
    sources = {"inner_cv": ("learned", "feedback"), "decode_cv": ("learned", "joint")}.get(approach.who_choice,
                                                                                          ("learned",))
    hits = np.zeros((len(sources), len(taus)))
    for test in make_folds(len(train), 4, seed):
        inner = fit([a for i, a in enumerate(train) if i not in set(test)], approach, seed, extra)
        for i in test:
            gold = train[i].trajectory.label
            for row, source in enumerate(sources):
                for column, tau in enumerate(taus):
                    guess = predict(inner, train[i], tau, source)
                    hits[row, column] += (guess.when == gold.when) + (guess.who.lower() == (gold.who or "").lower())
    row, column = np.unravel_index(np.argmax(hits[:, ::-1]), hits.shape)
    fitted.who_source, fitted.tau = sources[row], float(taus[len(taus) - 1 - column])
    return fitted


def _early_stopped(fitted: Fitted, train, extra, approach: Approach, seed: int) -> Fitted:
    """The step scorer (boosted stumps or MLP snapshots) cut to the number of rounds or epochs (of its ``choices``)
    that scores best on inner 4-fold CV over ``train`` (who + when hits; ties: fewer)."""
    choices = fitted.step_scorer.choices
    hits = np.zeros(len(choices))
    for test in make_folds(len(train), 4, seed):
        inner = fit([a for i, a in enumerate(train) if i not in set(test)], approach, seed, extra)
        for column, rounds in enumerate(choices):
            inner.step_scorer.rounds = rounds
            for i in test:
                gold, guess = train[i].trajectory.label, predict(inner, train[i])
                hits[column] += (guess.when == gold.when) + (guess.who.lower() == (gold.who or "").lower())
    fitted.step_scorer.rounds = choices[int(np.argmax(hits))]
    return fitted


# ---- protocols -------------------------------------------------------------------------------------------------

def kfold(analyses: list[Analysis], other: list[Analysis], approach: Approach, seed: int) -> list[Prediction]:
    predictions: list = [None] * len(analyses)
    extra = other if approach.pooled or approach.pooled_steps_only else []
    for test in make_folds(len(analyses), 5, seed):
        train = [analyses[i] for i in range(len(analyses)) if i not in set(test)]
        fitted = fit_selected(train, extra, approach, seed)
        for i in test:
            predictions[i] = predict(fitted, analyses[i])
    return predictions


def figures(analyses: dict, approach: Approach, seeds) -> list[tuple[float, float]]:
    if approach.all_steps:
        analyses = every_agent_step_a_candidate(analyses)
    out = []
    for subset, other in (SUBSETS, SUBSETS[::-1]):
        golds = [gold_of(a.trajectory) for a in analyses[subset]]
        runs = [kfold(analyses[subset], analyses[other], approach, seed) for seed in seeds]
        out.append(_mean([who_when_scores(run, golds) for run in runs]))
    for train, test in (SUBSETS[::-1], SUBSETS):
        golds = [gold_of(a.trajectory) for a in analyses[test]]
        runs = []
        for seed in seeds:
            fitted = fit_selected(analyses[train], [], approach, seed)
            runs.append([predict(fitted, a) for a in analyses[test]])
        out.append(_mean([who_when_scores(run, golds) for run in runs]))
    return out


def _mean(runs: list[dict]) -> tuple[float, float]:
    return float(np.mean([r["who"] for r in runs])), float(np.mean([r["when"] for r in runs]))


APPROACHES = {
    "default (factorised softmax, linear)": Approach(),
    "decode: joint argmax": Approach(decode="joint"),
    "decode: first above threshold (tau by inner CV)": Approach(decode="threshold"),
    "decode: factorised or joint argmax, by inner CV": Approach(who_choice="decode_cv"),
    "pooled with the other subset": Approach(pooled=True),
    "pooled, domain-augmented": Approach(pooled=True, augment=True),
    "pooled step scorer only (agent scorer on the subset)": Approach(pooled_steps_only=True),
    "pooled step scorer only, domain-augmented": Approach(pooled_steps_only=True, augment=True),
    "hazard (first-mistake) step model": Approach(step_fit=fit_hazard, step_distribution="hazard"),
    "hazard, pooled, domain-augmented": Approach(step_fit=fit_hazard, step_distribution="hazard", pooled=True,
                                                 augment=True),
    "hazard over all steps (no agent scorer)": Approach(step_fit=fit_hazard, step_distribution="hazard",
                                                        factorised=False),
    "boosted stumps step scorer": Approach(step_fit=fit_stumps),
    "boosted stumps step scorer, rounds by inner CV": Approach(step_fit=fit_stumps, early_stopping=True),
    "boosted stumps, pooled, domain-augmented": Approach(step_fit=fit_stumps, pooled=True, augment=True),
    "boosted stumps agent scorer": Approach(agent_fit=fit_stumps),
    "boosted stumps agent and step scorers": Approach(agent_fit=fit_stumps, step_fit=fit_stumps),
    "bagged (25 bootstrap fits, log-linear pooling)": Approach(bags=25),
    "MLP step scorer (16 tanh units), epochs by inner CV": Approach(step_fit=fit_mlp_snapshots, early_stopping=True),
    "every agent step a candidate": Approach(all_steps=True),
    "every agent step a candidate, hazard": Approach(all_steps=True, step_fit=fit_hazard, step_distribution="hazard"),
    "who from the window, when among all the agent's steps": Approach(when_among_all=True),
    "who from the window, when among all the agent's steps, hazard":
        Approach(when_among_all=True, step_fit=fit_hazard, step_distribution="hazard"),
    "who: learned agent or feedback tracer's, by inner CV": Approach(who_choice="inner_cv"),
    "step scorer + first-rejection neighbourhood": Approach(neighbourhood=True),
    "step scorer + first-rejection neighbourhood, hazard": Approach(neighbourhood=True, step_fit=fit_hazard,
                                                                    step_distribution="hazard"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="Who&When root (Hand-Crafted/, Algorithm-Generated/)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", nargs="*", help="approach names to run (default: all)")
    args = parser.parse_args()
    analyses = dev_analyses(args.data)
    print(f"{'approach (who / when)':<56} {'HC 5-fold':>12} {'AG 5-fold':>12} {'AG->HC':>12} {'HC->AG':>12}")
    for name, approach in APPROACHES.items():
        if args.only and name not in args.only:
            continue
        row = figures(analyses, approach, args.seeds)
        print(f"{name:<56} " + " ".join(f"{who:.3f}/{when:.3f}" for who, when in row), flush=True)


if __name__ == "__main__":
    main()
