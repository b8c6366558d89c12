"""Replay's leaderboard at a past block shows the balances that block left, read from the block's snapshot."""
from engine.agents.roles import AGENT_KEYS
from engine.clock import FixedClock
from engine.runs.scripted import run_scripted_incident
from engine.runs.session import Session
from engine.runs.timeline import open_timeline

FIELDS = ("balance", "stake", "locked", "reputation", "vote_weight")


def by_agent(rows: list[dict]) -> dict[str, dict]:
    return {row["agent"]: {k: row[k] for k in FIELDS} for row in rows if row["agent"] in AGENT_KEYS}


def test_the_leaderboard_at_a_past_block_is_what_the_chain_held_then(tmp_path):
    session = Session(tmp_path / "rca.db", clock=FixedClock())
    live: dict[int, dict] = {}
    session.events.subscribe(lambda event: live.__setitem__(event.block_height, by_agent(session.economy()))
                             if event.kind == "block_mined" else None)
    run_id = run_scripted_incident(session)["run_id"]
    timeline = open_timeline(session, run_id)
    first, last = min(live), max(live)

    past = timeline.state(timeline.cursor_for_block(first))
    head = timeline.state(len(timeline))
    assert past["block_height"] == first and head["block_height"] == last
    assert by_agent(past["leaderboard"]) == live[first]
    assert by_agent(head["leaderboard"]) == live[last]
    assert past["leaderboard"] != head["leaderboard"]
