"""Over-admission when a shared Redis budget store goes slow for some of the processes sharing it.

16 ``RedisBudgetStore`` (each one process: its own id in Redis, its own fallback) share one
deployment's rpm 60 on a real redis-server. Each asks for a request every 0.05 s of a clock the
script moves by hand (demand far above the limit), so the admissions are the store's alone. At
t = 10 s, ``--slow`` of them start talking to Redis through a proxy that holds every reply past
their timeout (a busy host, a slow network path): they fall back to their memory; at t = 100 s the
proxy heals and they come back at their next retry. The figure: the most requests admitted in any
60 s window, over the limit (1.00 is exact). Real time: a few seconds (each timeout waits 0.05 s).

    .venv/bin/python benchmarks/redis_share.py [--slow 4] [--processes 16] [--rpm 60]
"""

from __future__ import annotations

import argparse
import bisect
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests" / "support")]

from redis_proxy import RedisProxy  # noqa: E402  # the tests' helpers, by path
from redis_server import RedisServer  # noqa: E402

from llmport.adapters.budget.redis_store import RedisBudgetStore  # noqa: E402
from llmport.domain.budget import Budget, Reservation  # noqa: E402

STEP = 0.05
SLOW_FROM, SLOW_UNTIL, END = 10.0, 100.0, 160.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def run(processes: int, slow: int, rpm: int) -> tuple[int, float]:
    """The most admissions in any 60 s window, and the real seconds the run took."""
    clock = Clock()
    start, budget = clock.now, Budget("A", rpm=rpm)
    began = time.monotonic()
    granted: list[float] = []
    with RedisServer() as redis, RedisProxy(redis.port) as proxy:
        stores = [
            RedisBudgetStore(
                proxy.url if index < slow else redis.url,
                clock=clock,
                timeout=0.05,
                retry_every=30,
                lease_seconds=0,
            )
            for index in range(processes)
        ]
        while clock.now - start < END:
            elapsed = clock.now - start
            proxy.delay = 0.2 if SLOW_FROM <= elapsed < SLOW_UNTIL else 0.0
            for store in stores:
                if isinstance(store.reserve(budget, 1), Reservation):
                    granted.append(clock.now - start)
            clock.now += STEP
        for store in stores:
            store.close()
    most = max(bisect.bisect_left(granted, at + 60) - index for index, at in enumerate(granted))
    return most, time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=16)
    parser.add_argument("--slow", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--rpm", type=int, default=60)
    args = parser.parse_args()
    slow = f"some slow from t={SLOW_FROM:.0f} to {SLOW_UNTIL:.0f} s"
    print(f"{args.processes} processes sharing rpm {args.rpm}; {slow}")
    print("slow processes | most admitted in a 60 s window | over the limit | real seconds")
    for slow in args.slow:
        most, took = run(args.processes, slow, args.rpm)
        print(f"{slow:14d} | {most:30d} | {most / args.rpm:13.2f}x | {took:.1f}")


if __name__ == "__main__":
    main()
