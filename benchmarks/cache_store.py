"""What one reply cache store operation costs, and how far past a 0.3 s deadline a faulty Redis keeps it.

Printed: the median microseconds of a hit (get_many of one 2 KB value), a store (set_many of one),
and a claim with its release, for the memory store and the Redis store (a real redis-server on
127.0.0.1); then, for a Redis stalled, slowed past its timeout, or stopped, the longest that
get_many + claim + set_many + release took together under a 0.3 s deadline (fresh store each
round, so each round pays the failure). Bounded: about ten seconds.

    .venv/bin/python benchmarks/cache_store.py [--rounds 2000]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests" / "support")]

from redis_proxy import RedisProxy  # noqa: E402  # the tests' helpers, by path
from redis_server import RedisServer  # noqa: E402

from llmport.adapters.cache.memory import MemoryCacheStore  # noqa: E402
from llmport.adapters.cache.redis_cache import RedisCacheStore  # noqa: E402
from llmport.domain.deadline import Deadline, deadline_scope  # noqa: E402

VALUE = b"r" * 2048


def median_us(work: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def costs(store: Any, rounds: int) -> tuple[float, float, float]:
    store.set_many({"hit": VALUE}, 600)

    def claim_release() -> None:
        store.claim("k", 30)
        store.release("k")

    return (
        median_us(lambda: store.get_many(["hit"]), rounds),
        median_us(lambda: store.set_many({"stored": VALUE}, 600), rounds),
        median_us(claim_release, rounds),
    )


@contextlib.contextmanager
def stalled(redis: RedisServer) -> Iterator[str]:
    with RedisProxy(redis.port, stalled=True) as proxy:
        yield proxy.url


@contextlib.contextmanager
def slow(redis: RedisServer) -> Iterator[str]:
    with RedisProxy(redis.port, delay=2.0) as proxy:
        yield proxy.url


@contextlib.contextmanager
def stopped(_redis: RedisServer) -> Iterator[str]:
    with RedisServer() as gone:
        url = gone.url
    yield url


def worst_overrun(url: str, rounds: int = 5, deadline: float = 0.3) -> float:
    """The longest a call's four operations ran past ``deadline`` (negative: ended before it)."""
    worst = -deadline
    for _ in range(rounds):
        store = RedisCacheStore(url, timeout=5.0)
        start = time.monotonic()
        with deadline_scope(Deadline(start + deadline, time.monotonic)):
            store.get_many(["a"])
            store.claim("a", 30)
            store.set_many({"a": VALUE}, 60)
            store.release("a")
        worst = max(worst, time.monotonic() - start - deadline)
        store.close()
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    rounds = parser.parse_args().rounds
    with RedisServer() as redis:
        print("store    hit_us  set_us  claim+release_us")
        for name, store in (("memory", MemoryCacheStore()), ("redis", RedisCacheStore(redis.url))):
            hit, stored, claimed = costs(store, rounds)
            print(f"{name:<8} {hit:6.1f}  {stored:6.1f}  {claimed:6.1f}")
            store.close()
        print("fault     worst overrun past a 0.3 s deadline (s)")
        for fault in (stalled, slow, stopped):
            with fault(redis) as url:
                print(f"{fault.__name__:<9} {worst_overrun(url):+.3f}")


if __name__ == "__main__":
    main()
