"""The seven mABC roles (mABC paper; mABC-DAO design, agent table) and the DAO executor's own identity."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    key: str
    title: str
    duty: str


ROLES: tuple[Role, ...] = (
    Role("alert_receiver", "Alert Receiver", "rank incoming alerts, hand the most urgent one on"),
    Role("process_scheduler", "Process Scheduler", "split the incident into sub-tasks and decide when it is done"),
    Role("data_detective", "Data Detective", "collect metrics, traces and logs of the nodes in the window"),
    Role("dependency_explorer", "Dependency Explorer", "map direct and indirect dependencies of the nodes"),
    Role("probability_oracle", "Probability Oracle", "score how likely each node or edge is the fault"),
    Role("fault_mapper", "Fault Mapper", "build the fault web: the propagation graph of the fault"),
    Role("solution_engineer", "Solution Engineer", "turn the agreed root cause into concrete repair steps"),
)
ROLE_BY_KEY = {role.key: role for role in ROLES}
AGENT_KEYS = tuple(role.key for role in ROLES)
AUTHORITY = "dao_executor"
