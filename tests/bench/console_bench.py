"""Console benchmark (prints figures; not a pass/fail test): `python -m tests.bench.console_bench`.

Every latency is what a person sees: from a key entering the app's queue to the first frame painted after the key's
handler ran (headless Textual stops before turning a frame into terminal bytes; `FrameClock` does that step too, so a
frame costs what it costs on a terminal).

1. first frame: from constructing the app to its first rendered screen;
2. live stream: synthetic engine events pushed through the app's real subscriber callback from a thread, at a fixed
   rate and unthrottled (a flood), while keys are pressed; events shown per second and the key latency; each stream
   is repeated and the median of the worst latencies is printed with every worst;
3. replay of a 10,000-event run: key → frame for a step, a step back, a block jump and a seek.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import os
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
KEY_EVERY_S = 0.02


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


class FrameClock:
    """The moments the app paints a frame, each frame turned into the bytes a terminal would receive."""

    def __init__(self, app: RcaApp) -> None:
        self.times: list[float] = []
        self._display, self._console = app._display, app.console
        app._display = self._paint

    def _paint(self, screen, renderable) -> None:
        if renderable is not None:
            if hasattr(renderable, "render_segments"):
                renderable.render_segments(self._console)
            self.times.append(time.perf_counter())
        self._display(screen, renderable)


class KeyTimer:
    """Key (or queued call) in → its handler done → the next frame out; with the CPU time the app's thread had in
    that while (far below the wall time: the machine's other processes had the CPU, not the console)."""

    def __init__(self, app: RcaApp, frames: FrameClock) -> None:
        self.app, self.frames = app, frames
        self.handled: list[float] = []
        self.latencies: list[float] = []
        self.cpu: list[float] = []

    def wrap(self, owner, name: str) -> None:
        """Record when `owner.name` returns (the handler the key runs)."""
        handler = getattr(owner, name)

        def timed(*args, **kwargs):
            result = handler(*args, **kwargs)
            self.handled.append(time.perf_counter())
            return result

        setattr(owner, name, timed)

    async def press(self, key: str, character: str | None = None, call=None, timeout: float = 60.0) -> None:
        before, painted = len(self.handled), len(self.frames.times)
        pressed, cpu = time.perf_counter(), time.thread_time()
        if call is not None:
            self.app.call_later(call)
        else:
            self.app.post_message(Key(key, character))
        while time.perf_counter() - pressed < timeout:
            await asyncio.sleep(0.001)
            if len(self.handled) > before:
                frame = next((t for t in self.frames.times[painted:] if t >= self.handled[before]), None)
                if frame is not None:
                    self.latencies.append(frame - pressed)
                    self.cpu.append(time.thread_time() - cpu)
                    return
        raise TimeoutError(f"no frame within {timeout} s after {key!r}")


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


async def live_stream(db: Path, events: list[RunEvent], rate: float | None) -> tuple[float, list[float], float]:
    """Events/s until the console shows the last event, and the key → frame latency of `k` (the log's kind filter:
    the whole log is redrawn) pressed every 20 ms during the stream, and the app thread's CPU time during the worst."""
    app = RcaApp(db, offer_demo=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        view = app.screen.query_one(RunView)
        keys = KeyTimer(app, FrameClock(app))
        keys.wrap(view, "action_next_kind")
        producer = threading.Thread(target=produce, args=(app, events, rate))
        app.running = True  # as when the console's run worker streams events (what `start_run` sets)
        started = time.perf_counter()
        producer.start()
        while view.cursor < len(events) or view.timeline is None or view.timeline.run_id != RUN_ID:
            await keys.press("k", "k")
            await asyncio.sleep(KEY_EVERY_S)
        elapsed = time.perf_counter() - started
        producer.join()
        await pilot.pause()
        return len(events) / elapsed, keys.latencies, keys.cpu[keys.latencies.index(max(keys.latencies))]


async def replay_moves(count: int) -> dict[str, list[float]]:
    """Key → frame of a step / step back / block jump / seek in a `count`-event run, and the handler alone."""
    timeline = Timeline(RUN_ID, synthetic_events(count), lambda height: [])
    app = RcaApp(Path(tempfile.mkdtemp()) / "replay.db", offer_demo=False)
    rng = random.Random(1)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        app.screen.post_message(TimelineLoaded(timeline))
        await pilot.pause()
        screen = app.screen
        keys = KeyTimer(app, FrameClock(app))
        keys.wrap(screen, "move_to")
        figures = {}
        for name, press, repeats in (
                ("step", lambda: keys.press("right"), 50),
                ("step back", lambda: keys.press("left"), 50),
                ("block jump", lambda: keys.press("left_square_bracket", "["), 20),
                ("seek", lambda: keys.press("seek", call=lambda: screen.move_to(rng.randrange(count))), 50)):
            keys.latencies = []
            for _ in range(repeats):
                await press()
                await asyncio.sleep(KEY_EVERY_S)
            figures[name] = keys.latencies
        figures["step handler"] = [_handler_time(lambda: screen.action_step(1)) for _ in range(50)]
        figures["seek handler"] = [_handler_time(lambda: screen.move_to(rng.randrange(count))) for _ in range(50)]
        return figures


def _handler_time(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000, help="events of the throttled stream (default 50,000)")
    parser.add_argument("--flood-events", type=int, default=300_000,
                        help="events of the unthrottled stream (default 300,000: a flood that lasts long enough "
                             "to press keys in)")
    parser.add_argument("--rate", type=int, default=10_000, help="throttled producer rate (events/s)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each stream (the median of the worsts)")
    parser.add_argument("--replay-events", type=int, default=10_000, help="length of the replayed run")
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} "
          f"({os.cpu_count()} CPUs)")
    db = Path(tempfile.mkdtemp()) / "bench.db"
    story_db(db)
    frames = [asyncio.run(first_frame(db)) for _ in range(3)]
    print(f"first frame: {statistics.median(frames) * 1000:.0f} ms (median of 3, worst {max(frames) * 1000:.0f} ms)")
    for rate, count in ((args.rate, args.events), (None, args.flood_events)):
        events = synthetic_events(count)
        gc.collect()
        gc.freeze()  # the producer's pre-built events: the bench's heap, not the console's (which freezes its own)
        runs = [asyncio.run(live_stream(db, events, rate)) for _ in range(args.repeat)]
        worsts = [max(latencies) for _, latencies, _ in runs]
        every = [latency for _, latencies, _ in runs for latency in latencies]
        print(f"live stream, producer {'unthrottled' if rate is None else f'at {rate:,} events/s'}, {count:,} events: "
              f"{statistics.median(rate for rate, _, _ in runs):,.0f} events/s shown; key → frame median "
              f"{_ms(statistics.median(every))}, worst {_ms(statistics.median(worsts))} (median of {args.repeat} "
              f"runs' worsts: {', '.join(f'{_ms(w)} [app CPU {_ms(cpu)}]' for w, (_, _, cpu) in zip(worsts, runs))}; "
              f"{len(every)} keys)")
    figures = asyncio.run(replay_moves(args.replay_events))
    print(f"replay of {args.replay_events:,} events, key → frame (handlers alone last):")
    for name, times in figures.items():
        print(f"  {name:<13} median {_ms(statistics.median(times)):>9}   worst {_ms(max(times)):>9}")
    print(f"load after: {os.getloadavg()[0]:.2f}")
    print(TARGETS)


if __name__ == "__main__":
    main()
