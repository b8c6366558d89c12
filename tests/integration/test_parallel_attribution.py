"""Scale-out of `eval attribution`: the per-trajectory SLM feature extraction in 2 local processes and on a
distributed.LocalCluster gives the serial report, and the shared feature cache holds one whole file per trajectory."""
from __future__ import annotations

import shutil

import pytest

from tests.tiny_llm import build_tiny_llama

from engine.attribution.adapters import from_steps
from engine.attribution.schema import Label
from engine.config import settings
from engine.evaluation.attribution import EvalConfig, evaluate

CORPUS = [
    "Planner (thought): search the web for the population of Paris in 2020.",
    "Coder (action): import requests; print(requests.get(url).status_code)",
    "Terminal (observation): exitcode: 1 Traceback (most recent call last): error not found",
    "Verifier (message): the answer is 2148000. TERMINATE",
]
AGENTS = ["Planner", "Coder", "Terminal", "Verifier"]


def trajectories(count: int = 8):
    """Labelled trajectories of varied length and culprit; two share their content (same cache key)."""
    made = []
    for n in range(count):
        length = 4 + n % 3
        steps = [{"agent": "human", "kind": "query", "content": "What is the population of Paris?"}]
        steps += [{"agent": AGENTS[(n + i) % 4], "kind": "message", "content": f"{CORPUS[(n * i) % 4]} {n} {i}"}
                  for i in range(1, length)]
        culprit = 1 + n % (length - 1)
        made.append(from_steps(steps, trajectory_id=f"t{n}", query="population",
                               label=Label(who=steps[culprit]["agent"], when=culprit)))
    copy = [{"agent": step.agent, "kind": step.kind, "content": step.content} for step in made[0].steps]
    made.append(from_steps(copy, trajectory_id="t0-copy", query="population", label=made[0].label))
    return made


def test_eval_attribution_scaled_out_gives_the_serial_figures(tmp_path, isolated_cache):
    distributed = pytest.importorskip("distributed")
    model = str(build_tiny_llama(tmp_path / "tiny", CORPUS))
    cache = settings().feature_cache
    data = trajectories()
    reports = {}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        for mode, options in (("serial", {}), ("workers=2", {"workers": 2}),
                              ("dask", {"scheduler": cluster.scheduler_address})):
            shutil.rmtree(cache, ignore_errors=True)  # every mode starts from a cold feature cache
            config = EvalConfig(model_name=model, folds=3, seeds=(0, 1), ablations=False, **options)
            report = evaluate(data, config)
            report.pop("timing")
            reports[mode] = report
            files = sorted(path.name for path in cache.iterdir())
            features = [name for name in files if not name.startswith("cf-")]  # cf-: counterfactual effects
            assert len(features) == len(data) - 1  # the copy shares t0's key
            assert len(files) > len(features)
            assert not [name for name in files if "partial" in name]
    assert reports["serial"]["subsets"]["all"]["n"] == len(data)
    assert reports["workers=2"] == reports["serial"] == reports["dask"]
