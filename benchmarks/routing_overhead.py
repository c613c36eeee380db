"""Routing overhead with no faults: ``python benchmarks/routing_overhead.py [--quick]``, markdown on stdout.

One thread, sequential ``client.chat("hi", max_tokens=16)`` calls against the precomputed-bytes
loopback server (benchmarks/server.py, the fastest we have, so that the overhead is not hidden
behind a slow server), with budgets high enough never to refuse. Clients: a plain llmport client
of one endpoint; a routed client of one deployment and of two (priority 0 and 1, the same server)
with the Redis budget store (a real redis-server on a free port); and the same two on the
memory store. Each round runs every client in turn, the order rotating per round; the figure is
the median per-call time, and the ratio to the plain client is the median of the rounds' ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests" / "contract")]

from redis_server import RedisServer  # noqa: E402  # the tests' helper, by path
from server import Server  # noqa: E402

import llmport  # noqa: E402

MODEL = "gpt-4o-mini"
HUGE = 1_000_000_000  # a budget that never refuses


def configs(url: str, redis_url: str) -> dict[str, dict[str, Any]]:
    """The clients measured, as ``llmport.from_dict`` mappings."""

    def deployment(name: str, priority: int) -> dict[str, Any]:
        return {"name": name, "provider": "openai", "base_url": url, "api_key": "sk-test",
                "priority": priority, "rpm": HUGE, "tpm": HUGE}  # fmt: skip

    return {
        "one endpoint, no routing": {
            "provider": "openai", "base_url": url, "api_key": "sk-test", "chat_model": MODEL
        },
        "router, 1 deployment, Redis store": {
            "chat_model": MODEL, "budget_store": redis_url, "deployments": [deployment("ptu", 0)]
        },
        "router, 2 deployments, Redis store": {
            "chat_model": MODEL, "budget_store": redis_url,
            "deployments": [deployment("ptu", 0), deployment("paygo", 1)],
        },
        "router, 1 deployment, memory store": {
            "chat_model": MODEL, "budget_store": "memory", "deployments": [deployment("ptu", 0)]
        },
        "router, 2 deployments, memory store": {
            "chat_model": MODEL, "budget_store": "memory",
            "deployments": [deployment("ptu", 0), deployment("paygo", 1)],
        },
    }  # fmt: skip


def timed(client: llmport.Client, calls: int) -> list[float]:
    """Seconds per call of ``calls`` sequential chat calls."""
    samples = []
    clock = time.perf_counter
    for _ in range(calls):
        began = clock()
        client.chat("hi", max_tokens=16)
        samples.append(clock() - began)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    # Short rounds, many of them, the clients taking turns: the machine's drift (other processes,
    # CPU frequency) falls on every client alike instead of on whichever ran during it.
    parser.add_argument("--calls", type=int, default=50, help="calls per client per round")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    calls, rounds, warmup = (50, 20, 50) if args.quick else (args.calls, args.rounds, 300)
    with Server(workers=1) as server, RedisServer() as redis:
        url = f"http://127.0.0.1:{server.port}/v1"
        clients = {name: llmport.from_dict(config) for name, config in configs(url, redis.url).items()}
        names = list(clients)
        for client in clients.values():
            timed(client, warmup)
        medians: dict[str, list[float]] = {name: [] for name in names}
        every: dict[str, list[float]] = {name: [] for name in names}
        for number in range(rounds):
            for name in names[number % len(names) :] + names[: number % len(names)]:
                samples = timed(clients[name], calls)
                medians[name].append(statistics.median(samples))
                every[name].extend(samples)
        for client in clients.values():
            client.close()
    base = names[0]
    where = Path(llmport.__file__).resolve().parent
    lines = [
        f"Routing overhead: {calls} sequential calls per client per round, {rounds} rounds, one thread, "
        f"against benchmarks/server.py (1 worker, precomputed replies); llmport from {where}.",
        "",
        "| client | median per call | added per call | ratio to one endpoint (median of rounds) "
        "| middle half of the rounds' ratios | mean per call (ratio) "
        "| ratio if a reply took 200 ms (computed) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in names:
        ratios = [m / b for m, b in zip(medians[name], medians[base], strict=True)]
        median, added = (
            statistics.median(medians[name]),
            statistics.median(medians[name]) - statistics.median(medians[base]),
        )
        quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
        mean, base_mean = statistics.fmean(every[name]), statistics.fmean(every[base])
        lines.append(
            f"| {name} | {median * 1e6:.0f} µs | {added * 1e6:+.0f} µs | {statistics.median(ratios):.3f} | "
            f"{quartiles[0]:.3f} - {quartiles[2]:.3f} | {mean * 1e6:.0f} µs ({mean / base_mean:.3f}) | "
            f"{1 + added / 0.2:.4f} |"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
