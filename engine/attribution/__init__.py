"""White-box failure attribution over multi-agent trajectories: who caused a run to fail, and when (design 003).

The calls an integration needs (import the submodules; this package imports nothing heavy):

* ``adapters.from_engine_steps(steps, run_id)`` / ``adapters.load_trajectory(path)`` -> ``Trajectory``
* ``pipeline.trace(trajectory, model_name, config, scorer=analysis.rule_scorer)`` -> ``Attribution`` (who, when, ranking,
  evidence_path, per-step score parts, Soft-IDG weights)
* ``view.soft_idg_view(trajectory, attribution)`` -> the Soft-IDG as people see it (nodes, in-edges, evidence path;
  ``to_dict`` / ``from_dict``); ``export.to_dot`` / ``to_html`` draw it

Scoring it on labelled data (k-fold CV, baselines, ablations) is evaluation: :mod:`engine.evaluation.attribution`.
"""
