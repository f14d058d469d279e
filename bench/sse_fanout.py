"""SSE fan-out: many subscribers on one chat's stream, delivery latency and the store reads they cost.

Run: ``.venv/bin/python -m bench.sse_fanout [--subscribers 50] [--turns 5]``. hearth runs in this process
(uvicorn, SQLite, native agent); the scripted LLM, streaming 20 chunks per answer, in a process of its own. Each
turn's events reach every subscriber over HTTP, each on a connection of its own read by the small HTTP client
(``bench._lean_http``: a browser's parsing is not in this process either). Delivery latency is measured per
(subscriber, event) from the event's ``journaled_at`` (the server's wall clock read inside the journal's write,
before the commit; the subscriber runs in the same process, same clock) to the moment the subscriber's HTTP client
parsed it: the commit, the bus, the ring, the SSE response and the client's parsing. Printed as p50 / p99 / max;
target p99 < 20 ms. Also printed from the moment the bus published it (the bench taps the bus), which leaves the
commit out, and how many journal reads the subscribers cost while the turns ran (the in-memory ring should make it
zero; only the replay of each subscriber's connect may read).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench._hearth import Api, run_as_served, served, settings_for
from bench._opencode import git_dir
from core.events import TERMINAL_EVENT_TYPES
from core.model import StoredEvent
from scripted_llm.process import ScriptedLLMProcess


class _PublishTimes:
    """A bus tap: when each event of the chat was published (``core.ports.bus.FeedSink``)."""

    def __init__(self) -> None:
        self.at: dict[int, float] = {}

    def offer(self, event: StoredEvent) -> None:
        self.at[event.seq] = time.perf_counter()

    def gap(self) -> None:
        pass

    def end(self) -> None:
        pass


Received = tuple[int, float, float]  # seq; parsed at (perf_counter); parsed minus journaled_at (wall clock, s)


async def _subscriber(api: Api, chat: str, turns: int, ready: asyncio.Event, got: list[Received]) -> None:
    ended = 0
    async with api.lean.events(f"/api/chats/{chat}/events") as stream:
        ready.set()
        async for data in stream:
            parsed_at, wall = time.perf_counter(), datetime.now(UTC)
            since_journaled = (wall - datetime.fromisoformat(data["journaled_at"])).total_seconds()
            got.append((int(data["seq"]), parsed_at, since_journaled))
            if data["type"] in TERMINAL_EVENT_TYPES:
                ended += 1
                if ended == turns:
                    return


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _spread(values: list[float]) -> str:
    return (
        f"p50 {statistics.median(values):.2f} / p99 {_percentile(values, 0.99):.2f} / max {max(values):.2f} "
        f"(n={len(values)})"
    )


async def measure(subscribers: int, turns: int) -> None:
    with ScriptedLLMProcess() as llm, tempfile.TemporaryDirectory(prefix="hearth-bench-") as tmp:
        root = Path(tmp)
        async with served(settings_for(root, llm)) as api:
            chat = await api.chat(git_dir(root / "repo"))
            assert api.node is not None, "served in this process"
            streams = api.node.use_cases.streams
            published = _PublishTimes()
            with api.node.bus.tap(chat, published):
                received: list[list[Received]] = [[] for _ in range(subscribers)]
                readies = [asyncio.Event() for _ in range(subscribers)]
                async with asyncio.TaskGroup() as group:
                    for index in range(subscribers):
                        group.create_task(_subscriber(api, chat, turns, readies[index], received[index]))
                    async with asyncio.timeout(60):
                        for ready in readies:
                            await ready.wait()
                        while streams.following(chat) < subscribers:  # noqa: ASYNC110 (polling a count)
                            await asyncio.sleep(0.01)
                    reads_before = streams.store_reads
                    for index in range(turns):
                        await api.timed_turn(chat, "native", f"SLOW=0.02 turn {index}")
                reads = streams.store_reads - reads_before
        journaled = [late * 1000 for got in received for seq, _, late in got if seq in published.at]
        bus = [(at - published.at[seq]) * 1000 for got in received for seq, at, _ in got if seq in published.at]
        print(f"{subscribers} subscribers on one chat, {turns} turns, {len(published.at)} events in all")
        print(f"delivery, journaled to parsed by the HTTP client (ms): {_spread(journaled)} (target p99 < 20)")
        print(f"delivery, bus publish to parsed by the HTTP client (ms): {_spread(bus)}")
        print(f"journal reads made for the subscribers while the turns ran: {reads} (one per batch or fewer)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--subscribers", type=int, default=50)
    parser.add_argument("--turns", type=int, default=5)
    args = parser.parse_args()
    run_as_served(measure(args.subscribers, args.turns))


if __name__ == "__main__":
    main()
