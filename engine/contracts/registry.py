"""The one place that routes a transaction type to a contract method, its payload schema and its gas cost."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from engine.chain.config import REASON_MAX_CHARS, TEXT_MAX_CHARS
from engine.contracts import governance, incidents, sop, token
from engine.contracts.base import CallContext
from engine.contracts.schema import Field, validate

TEXT = Field("text", required=False, max_length=TEXT_MAX_CHARS)
REASON = Field("str", max_length=REASON_MAX_CHARS)


@dataclass(frozen=True)
class Method:
    handler: Callable[[CallContext, dict], None]
    schema: dict[str, Field]
    gas: int  # execution cost on top of the intrinsic cost
    settlement: bool = False  # the authority's settlement txs may be gas-free (mABC-DAO design); no others


def _penalty_schema() -> dict[str, Field]:
    return {"target": Field("address"), "amount": Field("int"), "reputation": Field("int", required=False),
            "reason": REASON, "evidence": Field("object", required=False)}


REGISTRY: dict[str, Method] = {
    "token.transfer": Method(token.transfer, {"to": Field("address"), "amount": Field("positive")}, 50),
    "token.stake": Method(token.stake, {"amount": Field("positive")}, 80),
    "token.unstake": Method(token.unstake, {"amount": Field("positive")}, 80),
    "token.reward": Method(token.reward, {"to": Field("address"), "amount": Field("int"),
                                          "reputation": Field("int", required=False),
                                          "reason": REASON}, 80, settlement=True),
    "token.penalty": Method(token.penalty, _penalty_schema(), 80, settlement=True),
    "token.slash": Method(token.slash, _penalty_schema() | {"run_id": Field("str", required=False)}, 80, settlement=True),
    "sop.open": Method(sop.open_incident, {"incident_id": Field("str"), "alert": Field("object", required=False)},
                       150),
    "sop.collect": Method(sop.collect_data, {"incident_id": Field("str"), "evidence_hash": Field("str"),
                                             "summary": TEXT}, 120),
    "sop.solution": Method(sop.submit_solution, {"incident_id": Field("str"), "proposal_id": Field("str"),
                                                 "repair_steps": Field("list"), "summary": TEXT}, 200),
    "gov.propose": Method(governance.propose, {"incident_id": Field("str"), "root_cause": Field("str"),
                                               "reason": TEXT, "stake": Field("positive"),
                                               "candidates": Field("list", required=False)}, 300),
    "gov.vote": Method(governance.vote, {"proposal_id": Field("str"),
                                         "option": Field("choice", choices=governance.OPTIONS),
                                         "stake": Field("positive"), "reason": TEXT}, 200),
    "gov.finalize": Method(governance.finalize, {"proposal_id": Field("str")}, 100),
    "incident.resolve": Method(incidents.resolve_run, {
        "run_id": Field("str"), "status": Field("str"), "result_digest": Field("str"),
        "incident_id": Field("str", required=False), "root_cause": Field("str", required=False),
        "truth": Field("str", required=False)}, 100, settlement=True),
}

INTRINSIC_GAS = 100
PAYLOAD_BYTES_PER_GAS = 8


def intrinsic_gas(payload_json: str) -> int:
    return INTRINSIC_GAS + len(payload_json.encode()) // PAYLOAD_BYTES_PER_GAS


def method_for(tx_type: str) -> Method | None:
    return REGISTRY.get(tx_type)


def validate_payload(tx_type: str, payload: dict) -> None:
    validate(tx_type, payload, REGISTRY[tx_type].schema)
