"""The offline, deterministic reasoner: each role follows a fixed investigation plan over the tools and answers
from the numbers it observed. Votes come from the voter's own evidence, not from the proposer's word."""
from __future__ import annotations

from typing import Any

from engine.reasoners.base import Observation, StepDecision, StepRequest, VoteDecision, VoteRequest

FOCUS = 3  # entities the Data Detective inspects closely


class HeuristicReasoner:
    name = "heuristic"

    def next_step(self, request: StepRequest) -> StepDecision:
        plan = getattr(self, f"_plan_{request.role}")
        return plan(request, [obs for _, obs in request.history])

    # ---- plans: each returns the next tool call, or the final answer once its observations are in ---------
    def _plan_alert_receiver(self, request: StepRequest, seen: list[Observation]) -> StepDecision:
        alert = request.alert
        return StepDecision(
            f"One alert: {alert['description']}. It is user-facing, so it gets top priority.",
            answer={"alert": alert, "priority": "P1",
                    "summary": f"P1: {alert['signal']} on {alert['entity']} at {alert['time_text']}"})

    def _plan_process_scheduler(self, request: StepRequest, seen: list[Observation]) -> StepDecision:
        entity = request.alert["entity"]
        subtasks = [f"Data Detective: collect metrics, traces and logs around {entity}",
                    f"Dependency Explorer: map what {entity} depends on",
                    "Probability Oracle: score every candidate", "Fault Mapper: draw the fault web",
                    "Solution Engineer: repair steps once consensus is reached"]
        return StepDecision("The alert needs data, dependencies, a ranking, a fault web and a fix, in that order.",
                            answer={"subtasks": subtasks})

    def _plan_data_detective(self, request: StepRequest, seen: list[Observation]) -> StepDecision:
        overview = _first(seen, "anomaly_overview")
        if overview is None:
            return StepDecision("Start with a sweep of every modality against the fault-free baseline.",
                                tool="anomaly_overview", args={"top": 5})
        focus = _focus_entities(overview.result)
        inspected = {obs.args.get("entity") for obs in seen if obs.tool == "baseline_compare"}
        for entity in focus:
            if entity not in inspected:
                return StepDecision(f"{entity} stands out in the sweep; compare it with its baseline.",
                                    tool="baseline_compare", args={"entity": entity})
        if focus and not any(obs.tool == "trace_stats" for obs in seen):
            return StepDecision(f"Check {focus[0]}'s calls for errors and latency.", tool="trace_stats",
                                args={"entity": focus[0]})
        if focus and not any(obs.tool == "log_stats" for obs in seen):
            return StepDecision(f"Check {focus[0]}'s logs for new errors.", tool="log_stats",
                                args={"entity": focus[0]})
        findings = [obs.result for obs in seen if obs.tool == "baseline_compare"]
        summary = "; ".join(_describe(f) for f in findings) or "no entity deviates from its baseline"
        return StepDecision(f"Evidence collected on {len(findings)} entities.",
                            answer={"focus": focus, "findings": findings, "summary": summary})

    def _plan_dependency_explorer(self, request: StepRequest, seen: list[Observation]) -> StepDecision:
        targets = [request.alert["entity"], *request.shared.get("data_detective", {}).get("focus", [])]
        targets = list(dict.fromkeys(targets))
        mapped = [obs for obs in seen if obs.tool == "dependencies" and obs.args.get("direction") == "downstream"]
        explored = {obs.args.get("entity") for obs in mapped}
        for entity in targets:
            if entity not in explored:
                return StepDecision(f"Which services does {entity} call?", tool="dependencies",
                                    args={"entity": entity, "direction": "downstream"})
        graph = {obs.args["entity"]: obs.result["direct"] + obs.result["indirect"] for obs in mapped}
        return StepDecision("Dependencies of the alerted and the anomalous entities are mapped.",
                            answer={"downstream": graph, "summary": describe_reach(graph)})

    def _plan_probability_oracle(self, request: StepRequest, seen: list[Observation]) -> StepDecision:
        ranking, tamo = _ranking(seen), _first(seen, "tamo_rank")
        if ranking is None:
            reported = {} if _first(seen, "rank_candidates") else reported_evidence(request.shared)
            return StepDecision("Fuse the evidence of every modality into a probability per entity.",
                                tool="rank_candidates", args={"k": 5, **reported})
        if _offers(request, "tamo_rank") and tamo is None:
            return StepDecision("Ask TAMO's frequency-domain causal attention for its own ranking.",
                                tool="tamo_rank", args={"k": 10})
        candidates = ranking.result["candidates"]
        if tamo is not None and not ranking.result.get("stacked"):  # a stacked ranking already weighs T2
            candidates = with_tamo(candidates, tamo.result["ranking"])
        top = candidates[0] if candidates else None
        thought = f"{top['entity']} scores {top['score']:.2f}, highest of {len(candidates)}." if top else \
            "No candidate has any evidence."
        return StepDecision(thought, answer={"candidates": candidates})

    def _plan_fault_mapper(self, request: StepRequest, seen: list[Observation]) -> StepDecision:
        candidates = request.shared.get("probability_oracle", {}).get("candidates", [])
        if _offers(request, "tamo_causal_graph") and not any(obs.tool == "tamo_causal_graph" for obs in seen):
            return StepDecision("Which entities does TAMO's causal graph say drive the others?",
                                tool="tamo_causal_graph", args={})
        mapped = {obs.args["root"] for obs in seen if obs.tool == "propagation_path"}
        for candidate in candidates[:3]:
            if candidate["entity"] not in mapped:
                return StepDecision(f"How would a fault in {candidate['entity']} reach the alert?",
                                    tool="propagation_path", args={"root": candidate["entity"]})
        web = {obs.args["root"]: obs.result["path"] for obs in seen if obs.tool == "propagation_path"}
        causal = next((obs.result["edges"] for obs in seen if obs.tool == "tamo_causal_graph"), [])
        return StepDecision("The fault web links each candidate to the alerted entity.",
                            answer={"fault_web": web, "causal_edges": causal})

    def _plan_solution_engineer(self, request: StepRequest, seen: list[Observation]) -> StepDecision:
        root = request.shared["consensus"]["root_cause"]
        if not any(obs.tool == "baseline_compare" for obs in seen):
            return StepDecision(f"What exactly is wrong with {root}?", tool="baseline_compare", args={"entity": root})
        if not any(obs.tool == "log_stats" for obs in seen):
            return StepDecision(f"Which errors does {root} log?", tool="log_stats", args={"entity": root})
        if _offers(request, "fault_type") and _first(seen, "fault_type") is None:
            return StepDecision(f"What kind of fault is it? Which of {root}'s signals moved, and how much?",
                                tool="fault_type", args={"entity": root})
        if _offers(request, "tamo_report") and not any(obs.tool == "tamo_report" for obs in seen):
            return StepDecision("What kind of fault is it? Ask TAMO's classifier and expert.", tool="tamo_report",
                                args={})
        return StepDecision(f"Repair plan for {root} from its evidence.",
                            answer={"repair_steps": repair_steps(root, seen, request.shared)})

    # ---- votes -----------------------------------------------------------------------------------------------
    def vote(self, request: VoteRequest) -> VoteDecision:
        root = request.proposal["root_cause"]
        judge = getattr(self, f"_vote_{request.role}", None)
        if judge is None:
            return VoteDecision("abstain", "no evidence of my own on this question")
        return judge(root, [obs for _, obs in request.evidence], request.shared)

    def _vote_data_detective(self, root: str, seen: list[Observation], shared: dict) -> VoteDecision:
        """For when the candidate leads (or nearly leads) some modality; against when it is far behind in all."""
        overview = next((obs.result for obs in seen if obs.tool == "anomaly_overview"), None)
        if overview is None:
            return VoteDecision("abstain", "I collected no sweep")
        shares = {m: share_of_top({row["entity"]: row["score"] for row in rows}, root)
                  for m, rows in overview["modalities"].items() if rows}
        strong = [f"{m} ({share:.0%} of the top score)" for m, share in shares.items() if share >= 0.5]
        if strong:
            return VoteDecision("for", f"{root} leads or nearly leads {', '.join(strong)}")
        if shares and max(shares.values()) < 0.2:
            return VoteDecision("against", f"{root} deviates at most {max(shares.values()):.0%} as much as the "
                                           f"most anomalous entity of any modality")
        return VoteDecision("abstain", f"{root} deviates, but others deviate more")

    def _vote_dependency_explorer(self, root: str, seen: list[Observation], shared: dict) -> VoteDecision:
        scores = {c["entity"]: c["score"] for c in shared.get("probability_oracle", {}).get("candidates", [])}
        below = next((obs.result["direct"] + obs.result["indirect"] for obs in seen
                      if obs.args.get("entity") == root), None)
        if below is None:
            return VoteDecision("abstain", f"I did not map {root}'s dependencies")
        worse = [d for d in below if scores.get(d, 0) > scores.get(root, 0)]
        if worse:
            return VoteDecision("against", f"{root} calls {worse[0]}, which is more anomalous "
                                           f"({scores[worse[0]]:.2f} vs {scores.get(root, 0):.2f})")
        return VoteDecision("for", f"none of the {len(below)} services {root} calls is more anomalous than it")

    def _vote_fault_mapper(self, root: str, seen: list[Observation], shared: dict) -> VoteDecision:
        path = next((obs.result["path"] for obs in seen if obs.args.get("root") == root), None)
        if path is None:
            return VoteDecision("abstain", f"{root} is not in my fault web")
        if len(path) > 1 or path[0] == shared.get("alert_receiver", {}).get("alert", {}).get("entity"):
            return VoteDecision("for", f"the fault can propagate {' -> '.join(path)}")
        return VoteDecision("against", f"no call path links {root} to the alerted entity")

    def _vote_probability_oracle(self, root: str, seen: list[Observation], shared: dict) -> VoteDecision:
        ranking = _ranking(seen)
        candidates = ranking.result["candidates"] if ranking else []
        if not candidates:
            return VoteDecision("abstain", "I have no ranking")
        best = max(candidates, key=lambda c: c["score"])
        score = next((c["score"] for c in candidates if c["entity"] == root), 0.0)
        if score >= 0.5 * best["score"]:
            return VoteDecision("for", f"{root} scores {score:.2f} (best {best['score']:.2f})")
        return VoteDecision("against", f"{root} scores {score:.2f}, far below {best['entity']} ({best['score']:.2f})")


TAMO_WEIGHT = 0.3  # T2's learned ranking is one signal among the oracle's; the statistics carry the rest


def with_tamo(candidates: list[dict], tamo_ranking: list[dict]) -> list[dict]:
    """Blend T2's ranking (scaled to its best score) into the statistical candidates and re-rank."""
    best = max((row["score"] for row in tamo_ranking), default=0.0) or 1.0
    tamo = {row["entity"]: row["score"] / best for row in tamo_ranking}
    top = max((c["score"] for c in candidates), default=0.0) or 1.0
    blended = []
    for candidate in candidates:
        t2 = tamo.get(candidate["entity"], 0.0)
        score = (1 - TAMO_WEIGHT) * candidate["score"] / top + TAMO_WEIGHT * t2
        blended.append({**candidate, "score": round(score, 4), "evidence": {**candidate.get("evidence", {}),
                                                                          "tamo_t2": round(t2, 4)}})
    return sorted(blended, key=lambda c: (-c["score"], c["entity"]))


def _offers(request: StepRequest, tool: str) -> bool:
    return any(spec.name == tool for spec in request.tools)


def share_of_top(scores: dict[str, float], entity: str) -> float:
    """`entity`'s score as a share of the top score (0 when nothing scores above 0)."""
    top = max(scores.values(), default=0.0)
    return scores.get(entity, 0.0) / top if top > 0 else 0.0


def reported_evidence(shared: dict[str, Any]) -> dict[str, Any]:
    """What the Data Detective and the Dependency Explorer reported, as rank_candidates takes it: their readings
    (each finding's modalities) and their dependency map. The ranking builds on these, not on a re-reading."""
    findings = shared.get("data_detective", {}).get("findings", [])
    reach = shared.get("dependency_explorer", {}).get("downstream", {})
    reported = {"readings": {f["entity"]: f["modalities"] for f in findings}, "reach": reach}
    return {key: value for key, value in reported.items() if value}


def describe_reach(graph: dict[str, list[str]]) -> str:
    return "; ".join(f"{entity} calls {len(below)} services" for entity, below in graph.items())


def _ranking(seen: list[Observation]) -> Observation | None:
    """The ranking the oracle got: a call that failed (reports it could not use) is asked again without them."""
    return next((obs for obs in seen if obs.tool == "rank_candidates" and "candidates" in obs.result), None)


def _focus_entities(overview: dict) -> list[str]:
    ranked: dict[str, float] = {}
    for rows in overview["modalities"].values():
        for position, row in enumerate(rows):
            ranked[row["entity"]] = ranked.get(row["entity"], 0.0) + 1.0 / (position + 1)
    return sorted(ranked, key=lambda e: (-ranked[e], e))[:FOCUS]


def _describe(finding: dict) -> str:
    parts = [f"{m} {v['summary'] or v['score']}" for m, v in finding["modalities"].items() if v["score"] > 0]
    return f"{finding['entity']}: " + (", ".join(parts) if parts else "normal")


def _first(seen: list[Observation], tool: str) -> Observation | None:
    """The first observation of `tool`: a plan may take over from another reasoner (the fallback) mid-way, so
    it finds its evidence by tool, not by position."""
    return next((obs for obs in seen if obs.tool == tool), None)


def fault_kind(seen: list[Observation], tamo: dict | None) -> tuple[str | None, float, str, list[str]]:
    """(fault type, its probability, what said so, remediation): the fault-kind classifier at the root cause when
    it was asked, else TAMO T3; (None, 0, "", []) when neither was."""
    classified = _first(seen, "fault_type")
    if classified is not None:
        result = classified.result
        because = ", ".join(f"{b['feature']} {b['value']:+.2f}" for b in result["because"])
        return (result["fault_type"], result["probabilities"][result["fault_type"]],
                f"signals: {because};" if because else "signals:", result["remediation"])
    if tamo:
        kind = tamo["report"]["fault_type"]
        return kind, tamo["fault_type"].get(kind, 0.0), "TAMO T3", tamo["report"]["remediation"]
    return None, 0.0, "", []


def planned_fault_type(seen: list[Observation]) -> dict | None:
    """The fault type a repair plan over these observations goes by (fault_kind's choice), its probability and
    the tool that named it; None when neither tool was asked."""
    tamo = _first(seen, "tamo_report")
    kind, probability, _, _ = fault_kind(seen, tamo.result if tamo else None)
    if kind is None:
        return None
    return {"fault_type": kind, "probability": round(float(probability), 4),
            "tool": "fault_type" if _first(seen, "fault_type") else "tamo_report"}


def repair_steps(root: str, seen: list[Observation], shared: dict[str, Any]) -> list[dict]:
    """Repair steps grounded in the evidence the Solution Engineer and the consensus produced."""
    compare = next(obs.result for obs in seen if obs.tool == "baseline_compare")
    logs = next(obs.result for obs in seen if obs.tool == "log_stats")
    path = shared.get("fault_mapper", {}).get("fault_web", {}).get(root, [root])
    evidence = _describe(compare)
    steps = [("Confirm the fault on " + root, f"Check {root}'s pods, restarts and resource limits: {evidence}.")]
    if logs.get("new_error_templates"):
        steps.append(("Read the new errors", f"{logs['errors_per_min']} error logs/min in the window "
                                              f"(baseline {logs['baseline_errors_per_min']}); new: "
                                              f"{logs['new_error_templates'][0]['template'][:160]}"))
    modalities = compare["modalities"]
    tamo = next((obs.result for obs in seen if obs.tool == "tamo_report"), None)
    kind, probability, source, remediation = fault_kind(seen, tamo)
    pressure = next((modalities[name] for name in ("saturation", "metrics")
                     if name in modalities and modalities[name]["score"] > 0), None)
    if pressure and kind in (None, "cpu_contention", "cpu_consumed", "memory_leak"):
        steps.append(("Relieve resource pressure", f"{pressure['summary']}: scale out {root} or "
                                                   f"raise its CPU/memory limits, and look for noisy neighbours."))
    if "latency" in modalities or "edges" in modalities:
        steps.append(("Check the slow calls", f"Trace {root}'s slowest operations and its network path; "
                                              f"propagation seen along {' -> '.join(path)}."))
    if kind:
        steps.append((f"Treat it as {kind} ({source} p={probability:.2f})", " ".join(remediation)))
    if tamo:
        priority = tamo["report"]["priority"]
        steps.append((f"Priority {priority['level']}", priority["reason"]))
    steps.append(("Roll back or restart", f"If {root} changed recently, roll back; otherwise restart it gracefully."))
    steps.append(("Verify recovery", f"Watch {' -> '.join(path)} until error rate and latency return to baseline."))
    return [{"step_id": i + 1, "action": action, "description": text} for i, (action, text) in enumerate(steps)]
