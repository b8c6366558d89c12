"""SOP, governance and token contracts, including every revert path."""
from engine.chain.config import TREASURY
from engine.contracts.governance import vote_weight


def _open(ledger, incident="inc-1"):
    assert ledger.send(ledger.members[0], "sop.open", {"incident_id": incident}).ok
    assert ledger.send(ledger.members[0], "sop.collect", {"incident_id": incident, "evidence_hash": "e1"}).ok


def _stake_all(ledger, amount=500):
    for key in ledger.members:
        assert ledger.send(key, "token.stake", {"amount": amount}).ok


def _propose(ledger, incident="inc-1", proposer=0, stake=100):
    receipt = ledger.send(ledger.members[proposer], "gov.propose",
                          {"incident_id": incident, "root_cause": "food-buy", "stake": stake})
    assert receipt.ok, receipt.revert_reason
    return receipt.tx_hash


def _sop_state(ledger, incident="inc-1"):
    return ledger.chain.state.storage_get("sop", f"incident:{incident}")["state"]


def _vote(ledger, member, proposal_id, option, stake=50):
    return ledger.send(ledger.members[member], "gov.vote",
                       {"proposal_id": proposal_id, "option": option, "stake": stake})


def test_sop_happy_path_emits_each_event(ledger):
    _stake_all(ledger)
    _open(ledger)
    assert _sop_state(ledger) == "Data_Collected"
    proposal = _propose(ledger)
    assert _sop_state(ledger) == "Root_Cause_Proposed"
    _vote(ledger, 1, proposal, "for")
    receipt = _vote(ledger, 2, proposal, "for")
    assert "ConsensusReached" in [e.name for e in receipt.events]
    assert _sop_state(ledger) == "Consensus"
    receipt = ledger.send(ledger.members[2], "sop.solution",
                          {"incident_id": "inc-1", "proposal_id": proposal, "repair_steps": [{"step_id": 1}]})
    assert receipt.ok and "SolutionSubmitted" in [e.name for e in receipt.events]
    assert _sop_state(ledger) == "Solution"


def test_illegal_sop_steps_revert_and_are_refunded(ledger):
    key = ledger.members[0]
    receipt = ledger.send(key, "sop.collect", {"incident_id": "nope", "evidence_hash": "e"})
    assert receipt.status == "reverted" and "not open" in receipt.revert_reason
    assert receipt.gas_charged == 0
    ledger.send(key, "sop.open", {"incident_id": "inc-1"})
    assert "already open" in ledger.send(key, "sop.open", {"incident_id": "inc-1"}).revert_reason
    receipt = ledger.send(key, "sop.solution", {"incident_id": "inc-1", "proposal_id": "p", "repair_steps": []})
    assert "needs incident inc-1 in Consensus, it is in Init" in receipt.revert_reason
    _stake_all(ledger)
    receipt = ledger.send(key, "gov.propose", {"incident_id": "inc-1", "root_cause": "x", "stake": 10})
    assert "in Data_Collected, it is in Init" in receipt.revert_reason
    assert _sop_state(ledger) == "Init"


def test_several_incidents_are_independent(ledger):
    _stake_all(ledger)
    _open(ledger, "a")
    ledger.send(ledger.members[1], "sop.open", {"incident_id": "b"})
    _propose(ledger, "a")
    assert (_sop_state(ledger, "a"), _sop_state(ledger, "b")) == ("Root_Cause_Proposed", "Init")


def test_rejected_proposal_returns_to_data_collected_and_allows_a_new_one(ledger):
    _stake_all(ledger)
    _open(ledger)
    proposal = _propose(ledger)
    _vote(ledger, 1, proposal, "against")
    receipt = _vote(ledger, 2, proposal, "against")
    assert "ProposalRejected" in [e.name for e in receipt.events]
    assert _sop_state(ledger) == "Data_Collected"
    assert ledger.chain.state.storage_get("governance", f"proposal:{proposal}")["status"] == "rejected"
    _propose(ledger, proposer=1)
    assert _sop_state(ledger) == "Root_Cause_Proposed"


def test_vote_weight_formula():
    from engine.chain.types import Account

    assert vote_weight(Account("a", stake=0, reputation=50)) == 1.0
    assert vote_weight(Account("a", stake=2000, reputation=70)) == 1 + 2 + 2
    assert vote_weight(Account("a", stake=500, reputation=10)) == 1.5


def test_participation_threshold_keeps_a_proposal_open(ledger):
    # 3 members, equal weight: one vote is 1/3 participation < 0.5 -> still open
    _stake_all(ledger)
    _open(ledger)
    proposal = _propose(ledger)
    receipt = _vote(ledger, 1, proposal, "for")
    assert receipt.ok and "ProposalClosed" not in [e.name for e in receipt.events]
    assert _sop_state(ledger) == "Root_Cause_Proposed"


def test_vote_reverts(ledger):
    _stake_all(ledger)
    _open(ledger)
    proposal = _propose(ledger)
    outsider = ledger.send(ledger.outsider, "token.stake", {"amount": 100})
    assert outsider.ok
    receipt = ledger.send(ledger.outsider, "gov.vote", {"proposal_id": proposal, "option": "for", "stake": 50})
    assert "not a voting member" in receipt.revert_reason
    assert "at least 10" in _vote(ledger, 1, proposal, "for", stake=5).revert_reason
    assert "free stake" in _vote(ledger, 1, proposal, "for", stake=10_000).revert_reason
    assert "no proposal" in _vote(ledger, 1, "missing", "for").revert_reason
    assert _vote(ledger, 1, proposal, "abstain").ok
    twice = _vote(ledger, 1, proposal, "for")
    assert "already voted" in twice.revert_reason and twice.gas_charged > 0  # malicious: gas kept


def test_deadline_expires_a_proposal_and_finalize_waits_for_it(ledger):
    _stake_all(ledger)
    _open(ledger)
    proposal = _propose(ledger)
    early = ledger.send(ledger.members[1], "gov.finalize", {"proposal_id": proposal})
    assert "open until block" in early.revert_reason
    for _ in range(10):
        ledger.chain.mine(allow_empty=True)
    assert "closed at block" in _vote(ledger, 1, proposal, "for").revert_reason
    receipt = ledger.send(ledger.members[1], "gov.finalize", {"proposal_id": proposal})
    assert receipt.ok and _sop_state(ledger) == "Data_Collected"
    assert "already expired" in ledger.send(ledger.members[1], "gov.finalize",
                                            {"proposal_id": proposal}).revert_reason


def test_stake_is_locked_while_a_vote_is_open(ledger):
    _stake_all(ledger, amount=150)
    _open(ledger)
    proposal = _propose(ledger)
    assert _vote(ledger, 1, proposal, "for", stake=100).ok
    receipt = ledger.send(ledger.members[1], "token.unstake", {"amount": 100})
    assert "locked" in receipt.revert_reason
    assert ledger.send(ledger.members[1], "token.unstake", {"amount": 50}).ok
    _vote(ledger, 2, proposal, "for")  # closes the proposal, unlocking stakes
    assert ledger.send(ledger.members[1], "token.unstake", {"amount": 100}).ok


def test_token_reverts_and_authority_only_methods(ledger):
    key = ledger.members[0]
    assert "exceeds balance" in ledger.send(key, "token.stake", {"amount": 10**9}).revert_reason
    assert "exceeds free stake" in ledger.send(key, "token.unstake", {"amount": 1}).revert_reason
    assert "is below" in ledger.send(key, "token.transfer",
                                     {"to": ledger.outsider.address, "amount": 10**9}).revert_reason
    for tx_type, payload in [("token.reward", {"to": key.address, "amount": 1, "reason": "r"}),
                             ("token.slash", {"target": key.address, "amount": 1, "reason": "r"}),
                             ("token.penalty", {"target": key.address, "amount": 1, "reason": "r"})]:
        receipt = ledger.send(key, tx_type, payload)
        assert "only the DAO authority" in receipt.revert_reason


def test_reward_slash_and_penalty_move_value_through_the_treasury(ledger):
    key = ledger.members[0]
    ledger.send(key, "token.stake", {"amount": 300})
    treasury_before = ledger.chain.state.get_account(TREASURY).balance
    before = ledger.account(key)
    assert ledger.send(ledger.authority, "token.reward",
                       {"to": key.address, "amount": 800, "reputation": 5, "reason": "right"}).ok
    assert ledger.send(ledger.authority, "token.slash",
                       {"target": key.address, "amount": 200, "reputation": 3, "reason": "wrong",
                        "evidence": {"path": [1, 2]}}).ok
    assert ledger.send(ledger.authority, "token.penalty",
                       {"target": key.address, "amount": 100, "reputation": 1, "reason": "wrong"}).ok
    after = ledger.account(key)
    assert after.balance == before.balance + 800 - 100
    assert after.stake == before.stake - 200
    assert after.reputation == before.reputation + 5 - 3 - 1
    gas_to_treasury = ledger.chain.state.get_account(TREASURY).balance - treasury_before
    assert gas_to_treasury == -800 + 200 + 100 + sum(
        r["gas_charged"] for r in ledger.chain.conn.execute(
            "SELECT gas_charged FROM receipts r JOIN transactions t ON t.hash = r.tx_hash "
            "WHERE t.sender = ? AND t.tx_type LIKE 'token.%'", (ledger.authority.address,)))


def test_success_pays_gas_used_and_out_of_gas_pays_the_limit(ledger):
    key = ledger.members[0]
    before = ledger.account(key).balance
    receipt = ledger.send(key, "token.stake", {"amount": 10})
    assert receipt.ok and ledger.account(key).balance == before - 10 - receipt.gas_used
    tx = ledger.chain.build_tx(key, "token.stake", {"amount": 10})
    tight = ledger.chain.build_tx(key, "token.stake", {"amount": 10}, gas_limit=tx.gas_limit - 150)
    before = ledger.account(key)
    ledger.chain.submit(tight)
    ledger.chain.mine()
    _, receipt, _ = ledger.chain.transaction(tight.hash)
    assert receipt.status == "reverted" and "out of gas" in receipt.revert_reason
    after = ledger.account(key)
    assert after.balance == before.balance - tight.gas_limit and after.stake == before.stake
    assert after.nonce == before.nonce + 1
