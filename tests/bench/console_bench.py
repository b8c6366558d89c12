"""Console benchmark (prints figures; not a pass/fail test): `python -m tests.bench.console_bench`.

1. first frame: from constructing the app to its first rendered screen;
2. live stream: synthetic engine events pushed through the app's real subscriber callback from a thread, as fast as
   the producer can go, while keys are pressed; events rendered per second and the worst key latency;
3. replay of a 10,000-event run: time for a one-event step and for a seek to redraw every pane.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from textual.events import Key

from engine.events import RunEvent
from engine.agents.roles import AGENT_KEYS
from engine.runs.timeline import Timeline
from rca_tui.app import RcaApp
from rca_tui.messages import TimelineLoaded
from rca_tui.widgets.run_view import RunView
from tests.tui.story import story_db

RUN_ID = "run-bench"
TARGETS = "targets: ≥ 5,000 events/s, key latency < 100 ms, first frame < 1.5 s, replay step/seek < 100 ms"


def synthetic_events(count: int, run_id: str = RUN_ID, seed: int = 0) -> list[RunEvent]:
    """A plausible mix: thoughts, actions, observations, txs, votes, SOP moves and a block every 8 events."""
    rng = random.Random(seed)
    events, height = [], 0
    for seq in range(1, count + 1):
        agent = rng.choice(AGENT_KEYS)
        if seq % 8 == 0:
            height += 1
            kind, payload = "block_mined", {"height": height, "hash": f"{seq:064x}", "tx_count": 1}
        elif seq % 8 == 7:
            kind, payload = "tx_submitted", {"agent": agent, "tx": f"{seq:064x}", "tx_type": "gov.vote",
                                             "status": rng.choice(["success"] * 9 + ["reverted"]),
                                             "revert_reason": None}
        elif seq % 8 == 6:
            kind, payload = "vote_cast", {"agent": agent, "proposal_id": f"p{seq // 400}",
                                          "option": rng.choice(["for", "against", "abstain"]), "weight": 1.2}
        elif seq % 400 == 5:
            kind, payload = "proposal", {"agent": agent, "proposal_id": f"p{seq // 400}", "root_cause": "ts-food"}
        else:
            kind = rng.choice(["agent_thought", "agent_action", "observation"])
            payload = {"agent": agent, "step": seq % 20, "thought": f"step {seq}: compare latency of svc-{seq % 41}",
                       "tool": "metrics", "result": {"svc": seq % 41, "p99_ms": rng.randint(5, 9000)}}
        events.append(RunEvent(run_id, seq, kind, 1_700_000_000_000 + seq, payload,
                               height if kind in ("block_mined", "tx_submitted", "vote_cast", "proposal") else None))
    return events


async def first_frame(db: Path) -> float:
    started = time.perf_counter()
    app = RcaApp(db, offer_demo=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        return time.perf_counter() - started


def produce(app: RcaApp, events: list[RunEvent], rate: float | None) -> None:
    """Feed the app's real subscriber callback, as fast as possible or at `rate` events/s (chunks of 100)."""
    started = time.perf_counter()
    for index, event in enumerate(events):
        app._queue_event(event)
        if rate and index % 100 == 99:
            time.sleep(max(0.0, started + (index + 1) / rate - time.perf_counter()))


async def live_stream(db: Path, count: int, rate: float | None) -> tuple[float, list[float]]:
    """Events/s until the console shows the last event, and for keys injected every 20 ms during the stream, the
    time from the key entering the app's queue to its action running (Pilot's press would wait for idle)."""
    events = synthetic_events(count)
    app = RcaApp(db, offer_demo=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        view = app.screen.query_one(RunView)
        handled: list[float] = []
        action = view.action_next_kind
        view.action_next_kind = lambda: (handled.append(time.perf_counter()), action())
        producer = threading.Thread(target=produce, args=(app, events, rate))
        started = time.perf_counter()
        producer.start()
        sent: list[float] = []
        while view.cursor < count or view.timeline is None or view.timeline.run_id != RUN_ID:
            if len(sent) == len(handled):
                sent.append(time.perf_counter())
                app.post_message(Key("k", "k"))
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - started
        producer.join()
        await pilot.pause()
        return count / elapsed, [done - pressed for pressed, done in zip(sent, handled)]


async def replay_moves(count: int) -> dict[str, list[float]]:
    """Worst times: Pilot round-trips of a step / seek / block jump (key in → handled → screen redrawn), the
    same for a key bound to nothing (Pilot's own overhead), and the handler alone (state + widget updates)."""
    timeline = Timeline(RUN_ID, synthetic_events(count), lambda height: [])
    app = RcaApp(Path(tempfile.mkdtemp()) / "replay.db", offer_demo=False)
    rng = random.Random(1)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        app.screen.post_message(TimelineLoaded(timeline))
        await pilot.pause()
        screen = app.screen
        figures = {
            "no-op key": [await _timed(lambda: pilot.press("z")) for _ in range(20)],
            "step": [await _timed(lambda: pilot.press("right")) for _ in range(50)],
            "step back": [await _timed(lambda: pilot.press("left")) for _ in range(50)],
            "seek": [await _timed(lambda: _seek(pilot, rng.randrange(count))) for _ in range(50)],
            "block jump": [await _timed(lambda: pilot.press("left_square_bracket")) for _ in range(20)],
        }
        figures["step handler"] = [_handler_time(lambda: screen.action_step(1)) for _ in range(50)]
        figures["seek handler"] = [_handler_time(lambda: screen.move_to(rng.randrange(count))) for _ in range(50)]
        return figures


async def _seek(pilot, cursor: int) -> None:
    pilot.app.screen.move_to(cursor)
    await pilot.pause()


async def _timed(action) -> float:
    started = time.perf_counter()
    await action()
    return time.perf_counter() - started


def _handler_time(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000, help="events to stream (default 50,000)")
    parser.add_argument("--rate", type=int, default=10_000, help="throttled producer rate for the key-latency run")
    parser.add_argument("--replay-events", type=int, default=10_000, help="length of the replayed run")
    args = parser.parse_args()
    db = Path(tempfile.mkdtemp()) / "bench.db"
    story_db(db)
    frames = [asyncio.run(first_frame(db)) for _ in range(3)]
    print(f"first frame: {statistics.median(frames) * 1000:.0f} ms (median of 3, worst {max(frames) * 1000:.0f} ms)")
    for rate in (None, args.rate):
        rendered, latencies = asyncio.run(live_stream(db, args.events, rate))
        print(f"live stream, producer {'unthrottled' if rate is None else f'at {rate:,} events/s'}: {args.events} "
              f"events, {rendered:,.0f} events/s rendered; key latency during the stream median "
              f"{statistics.median(latencies) * 1000:.1f} ms, worst {max(latencies) * 1000:.1f} ms ({len(latencies)} keys)")
    figures = asyncio.run(replay_moves(args.replay_events))
    print(f"replay of {args.replay_events} events (Pilot round-trips include Pilot's own idle wait, see no-op key):")
    for name, times in figures.items():
        print(f"  {name:<13} median {statistics.median(times) * 1000:6.1f} ms   worst {max(times) * 1000:6.1f} ms")
    print(TARGETS)


if __name__ == "__main__":
    main()
