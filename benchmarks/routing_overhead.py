"""Routing overhead with no faults: ``python benchmarks/routing_overhead.py [--quick]``, markdown on stdout.

One thread, sequential ``client.chat("hi", max_tokens=16)`` calls against the precomputed-bytes
loopback server (benchmarks/server.py, the fastest we have, so that the overhead is not hidden
behind a slow server), with budgets high enough never to refuse. Clients: a plain llmport client
of one endpoint; a routed client of one deployment and of two (priority 0 and 1, the same server)
with the Redis budget store (a real redis-server on a free port); and the same two on the
memory store; and two regions of one priority (the calls spread over both) on either store.
Each round runs every client in turn, the order rotating per round; the figure is the median
per-call time, and the ratio to the plain client is the median of the rounds' ratios.

A second table times the router's own share of a call from inside real calls, which the drift
between rounds does not blur: fresh routed clients whose router and deployment adapters are
wrapped in timers; the share is the time from entering the router to entering the adapter, plus
from leaving the adapter to leaving the router (the timers' own cost included).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests" / "support")]

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
        "router, 2 regions of one priority, Redis store": {
            "chat_model": MODEL, "budget_store": redis_url,
            "deployments": [deployment("east", 0), deployment("west", 0)],
        },
        "router, 2 regions of one priority, memory store": {
            "chat_model": MODEL, "budget_store": "memory",
            "deployments": [deployment("east", 0), deployment("west", 0)],
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


class _TimedAdapter:
    """A deployment's adapter, noting when each call enters and leaves it."""

    def __init__(self, adapter: Any, marks: list[int]) -> None:
        self._adapter, self._marks = adapter, marks

    def complete(self, request: Any) -> Any:
        self._marks.append(time.perf_counter_ns())
        try:
            return self._adapter.complete(request)
        finally:
            self._marks.append(time.perf_counter_ns())


class _TimedRouter:
    """A router, noting its own share of each call: before the adapter, and after it."""

    def __init__(self, router: Any, marks: list[int], shares: list[float]) -> None:
        self._router, self._marks, self._shares = router, marks, shares

    def complete(self, request: Any) -> Any:
        entered = time.perf_counter_ns()
        reply = self._router.complete(request)
        left = time.perf_counter_ns()
        sent, answered = self._marks[-2:]
        self._shares.append((sent - entered + left - answered) / 1e9)
        return reply


def router_shares(configs_: dict[str, dict[str, Any]], calls: int, rounds: int) -> dict[str, list[float]]:
    """Seconds per call spent in the router itself, per routed client, timed inside real calls."""
    clients, shares = {}, {}
    for name, config in configs_.items():
        if "deployments" not in config:
            continue
        client = llmport.from_dict(config)
        service = client._chat  # the chat service, whose port is the router
        router, marks, shares[name] = service._chat, [], []
        for deployment in router.deployments:
            object.__setattr__(deployment, "adapter", _TimedAdapter(deployment.adapter, marks))
        service._chat = _TimedRouter(router, marks, shares[name])
        clients[name] = client
    for _ in range(rounds):
        for client in clients.values():
            timed(client, calls)
    for client in clients.values():
        client.close()
    return {name: values[calls:] for name, values in shares.items()}  # the first round warms up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    # Short rounds, many of them, the clients taking turns: the machine's drift (other processes,
    # CPU frequency) falls on every client alike instead of on whichever ran during it.
    parser.add_argument("--calls", type=int, default=50, help="calls per client per round")
    parser.add_argument("--rounds", type=int, default=200)
    # One client object can sit a percent or so faster or slower than an identical one (where
    # its objects landed in memory): each round uses the next of several built alike.
    parser.add_argument("--instances", type=int, default=4, help="clients built alike per row")
    args = parser.parse_args()
    calls, rounds, warmup = (50, 20, 50) if args.quick else (args.calls, args.rounds, 300)
    with Server(workers=1) as server, RedisServer() as redis:
        url = f"http://127.0.0.1:{server.port}/v1"
        measured = configs(url, redis.url)
        clients = {
            name: [llmport.from_dict(config) for _ in range(args.instances)]
            for name, config in measured.items()
        }
        names = list(clients)
        for built in clients.values():
            for client in built:
                timed(client, warmup)
        medians: dict[str, list[float]] = {name: [] for name in names}
        every: dict[str, list[float]] = {name: [] for name in names}
        for number in range(rounds):
            for name in names[number % len(names) :] + names[: number % len(names)]:
                samples = timed(clients[name][number % args.instances], calls)
                medians[name].append(statistics.median(samples))
                every[name].extend(samples)
        for built in clients.values():
            for client in built:
                client.close()
        shares = router_shares(measured, calls, max(rounds // 5, 2))
    base = names[0]
    where = Path(llmport.__file__).resolve().parent
    lines = [
        f"Routing overhead: {calls} sequential calls per client per round, {rounds} rounds (each on the next "
        f"of {args.instances} clients built alike), one thread, "
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
    base_median = statistics.median(medians[base])
    lines += [
        "",
        "The router's own share of a call, timed inside real calls (wrapped clients, "
        f"{max(rounds // 5, 2) - 1} rounds of {calls} calls after one to warm up):",
        "",
        "| client | router's share per call (median) | as a fraction of a call to one endpoint "
        "| mean share (with the stores' round trips) | as a fraction |",
        "|---|---|---|---|---|",
    ]
    for name, values in shares.items():
        share, mean = statistics.median(values), statistics.fmean(values)
        lines.append(
            f"| {name} | {share * 1e6:.1f} µs | {share / base_median:.4f} "
            f"| {mean * 1e6:.1f} µs | {mean / base_median:.4f} |"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
