"""A: the RCA expert. Turns the tools' outputs into a report that cites their numbers: fault analysis,
impact (the upstream entities that call the root cause, directly or not), priority, remediation by fault type.
A plain function (the offline default); an LLM endpoint may rewrite the text later from the same dict."""

from __future__ import annotations

import networkx as nx

from engine.tamo.model import Inference

REMEDIATION = {
    "cpu_contention": ["Find the co-located workload competing for CPU on the node (node CPU, noisy neighbours).",
                       "Move the pod to a less loaded node or raise its CPU request so the scheduler isolates it.",
                       "Add a replica behind the service while the contention lasts."],
    "cpu_consumed": ["Profile the service: a hot loop or runaway request is burning its own CPU.",
                     "Raise the CPU limit or scale out as a stop-gap; roll back the latest change if it started then."],
    "network_delay": ["Check the pod's network path (tc/netem rules, CNI, node NIC) and the latency of its edges.",
                      "Tighten client timeouts and retries with backoff at the callers to bound the damage."],
    "network_loss": ["Check the pod's network path for dropped packets (tc/netem rules, CNI, node NIC errors).",
                     "Bound the retries at the callers: lost packets show as timeouts and failed calls into it."],
    "memory_leak": ["Watch the pod's memory against its limit: a leak grows until the OOM killer restarts it.",
                    "Restart it before the limit as a stop-gap; heap-profile the latest change to find the leak."],
    "exception": ["Read the new error log templates of the service; fix the failing code path or its dependency.",
                  "Roll back the deployment that introduced the exception; add a circuit breaker at the callers."],
    "return": ["A code path returns early or wrongly: compare calls and log statements with the fault-free run.",
               "Roll back the latest deployment of the service; add a contract test on the affected operation."],
}
GENERIC_REMEDIATION = ["Inspect the root-cause entity's recent changes, resources and logs; roll back if recent."]


def expert_report(inference: Inference, topology: nx.DiGraph, alert_entity: str = "", top_k: int = 3) -> dict:
    root, score = inference.ranking[0] if inference.ranking else ("unknown", 0.0)
    fault_type, probability = max(inference.fault_types.items(), key=lambda kv: kv[1], default=("unknown", 0.0))
    affected = sorted(nx.ancestors(topology, root)) if root in topology else []
    priority = _priority(score, probability, len(affected), alert_entity in affected or alert_entity == root)
    runner_up = inference.ranking[1] if len(inference.ranking) > 1 else None
    return {
        "root_cause": root,
        "fault_type": fault_type,
        "fault_analysis": _analysis(inference, root, score, fault_type, probability, runner_up, top_k),
        "impact": {"affected_upstream": affected, "count": len(affected), "entry_point_affected":
                   bool(alert_entity) and (alert_entity in affected or alert_entity == root),
                   "summary": f"{len(affected)} upstream entities call {root} directly or indirectly"
                              + (f" ({', '.join(affected[:6])}{', …' if len(affected) > 6 else ''})." if affected else ".")},
        "priority": priority,
        "remediation": REMEDIATION.get(fault_type, GENERIC_REMEDIATION),
    }


def _analysis(inference: Inference, root: str, score: float, fault_type: str, probability: float, runner_up,
              top_k: int) -> str:
    ranked = ", ".join(f"{entity} ({value:.2f})" for entity, value in inference.ranking[:top_k])
    text = (f"T2 ranks {root} as the most likely root cause with score {score:.2f} (top {top_k}: {ranked}). "
            f"T3 classifies the fault as {fault_type} with probability {probability:.2f}.")
    explains = [(dst, w) for src, dst, w in inference.causal_edges if src == root][:3]
    if explains:
        text += " In the causal graph it explains " + ", ".join(f"{dst} ({w:.2f})" for dst, w in explains) + "."
    if runner_up and runner_up[1] > 0.5 * score:
        text += f" {runner_up[0]} ({runner_up[1]:.2f}) is a close second: check it too."
    return text


def _priority(score: float, probability: float, affected: int, entry_affected: bool) -> dict:
    points = (2 if entry_affected else 0) + (1 if affected >= 3 else 0) + (1 if score >= 0.5 else 0)
    level = "P1" if points >= 3 else "P2" if points >= 2 else "P3"
    reason = (f"entry point {'affected' if entry_affected else 'not affected'}, {affected} upstream entities, "
              f"root-cause confidence {score:.2f}, fault-type confidence {probability:.2f}")
    return {"level": level, "reason": reason}
