"""A chat miss with a Redis reply cache, before and since a miss makes three round trips instead of
five: ``.venv/bin/python benchmarks/cache_miss.py [--calls N]``.

``benchmarks/cache.py`` times each kind of call in blocks, one run after another, so a change of
a tenth of a millisecond is lost in a loaded machine's drift between runs. This one loads the
package at ``BEFORE`` (the commit before the round trips were cut, as ``cache_before.py`` does)
next to today's, and times a Redis miss of each, a Redis hit of each and a call with the cache
off, one call of each in turn, in one process, against one loopback server and one redis-server;
then counts the round trips of a few more calls of each through the tests' proxy (not timed: the
proxy's own hops would weigh on every round trip).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests" / "support")]

from cache import CountingServer, settings  # noqa: E402  # a sibling script's helpers
from cache_before import load_before  # noqa: E402
from redis_proxy import RedisProxy  # noqa: E402  # the tests' helpers, by path
from redis_server import RedisServer  # noqa: E402

import llmport  # noqa: E402

#: Numbers questions never asked before (in either pass: both use the same Redis).
FRESH = itertools.count()
#: The last commit whose miss made five round trips (lookup, claim, read, store, release).
BEFORE = "24ba33a"


def kinds(before: Any, server: CountingServer, url: str) -> dict[str, Any]:
    """A client for each kind of call: the cache off, and a Redis cache at ``url`` before and now."""
    return {
        "cache off": llmport.build_client(settings(llmport, server)),
        f"Redis miss, before ({BEFORE})": before.build_client(settings(before, server, cache=url)),
        "Redis miss, now": llmport.build_client(settings(llmport, server, cache=url)),
        f"Redis hit, before ({BEFORE})": before.build_client(settings(before, server, cache=url)),
        "Redis hit, now": llmport.build_client(settings(llmport, server, cache=url)),
    }


def in_turn(
    clients: dict[str, Any], calls: int, tick: Callable[[], int]
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Seconds per call of each kind, one call of each in turn (the order rotating), and what
    ``tick`` (a count of round trips) went up by in each kind's calls."""
    for client in clients.values():
        client.chat("What is 2+2?")  # warm: connections, imports, the stored reply
    names = list(clients)
    taken: dict[str, list[float]] = {name: [] for name in names}
    trips = dict.fromkeys(names, 0)
    for number in range(calls):
        for name in names[number % len(names) :] + names[: number % len(names)]:
            question = "What is 2+2?" if "hit" in name else f"Question {next(FRESH):08d}?"
            counted = tick()
            started = time.perf_counter()
            clients[name].chat(question)
            taken[name].append(time.perf_counter() - started)
            trips[name] += tick() - counted
    for client in clients.values():
        client.close()
    return taken, trips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000, help="calls of each kind (default 2000)")
    calls = parser.parse_args().calls
    before = load_before(BEFORE)
    began = time.monotonic()
    with CountingServer() as server, RedisServer() as redis:
        taken, _ = in_turn(kinds(before, server, redis.url), calls, lambda: 0)
        with RedisProxy(redis.port) as proxy:
            counted = 50
            _, trips = in_turn(kinds(before, server, proxy.url), counted, lambda: proxy.round_trips)
    base = statistics.median(taken["cache off"])
    print("| chat over the loopback, calls in turn | median µs | / cache off | Redis round trips per call |")
    print("|---|--:|--:|--:|")
    for name, times in taken.items():
        middle = statistics.median(times)
        print(f"| {name} | {middle * 1e6:,.1f} | {middle / base:.3f}x | {trips[name] / counted:.2f} |")
    old, new = (statistics.median(taken[f"Redis miss, {k}"]) for k in (f"before ({BEFORE})", "now"))
    print(
        f"\nRedis miss now / before: {new / old:.3f}x; over cache off: +{(old - base) * 1e6:,.0f} µs "
        f"before, +{(new - base) * 1e6:,.0f} µs now"
    )
    load, spent = os.getloadavg()[0], time.monotonic() - began
    print(f"{time.strftime('%Y-%m-%d')}, {calls:,} calls of each, load {load:.1f}; {spent:.0f} s")


if __name__ == "__main__":
    main()
