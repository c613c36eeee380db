"""How far past its deadline a routed call ends when its Redis budget store misbehaves.

For each Redis fault and each deadline, a client built from settings (two deployments on loopback
OpenAI servers, the Redis budget store) makes 4 concurrent calls, then 4 one after another, on a
fresh client each time. Printed: calls failed, and the overrun, max(call's end - its deadline), in
seconds (negative: every call ended before its deadline). Real servers on 127.0.0.1: redis-server
(behind a proxy that delays or swallows its replies, with a password, out of memory), and a
plaintext one reached with rediss://. Bounded: about a minute.

    .venv/bin/python benchmarks/redis_deadline.py [--deadlines 0.3 1 2]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests" / "support")]

from loopback import LoopbackServer  # noqa: E402  # the tests' helpers, by path
from redis_proxy import RedisProxy  # noqa: E402
from redis_server import RedisServer, free_port  # noqa: E402

import llmport  # noqa: E402


@contextlib.contextmanager
def slow() -> Iterator[str]:
    with RedisServer() as redis, RedisProxy(redis.port, delay=0.4) as proxy:
        yield proxy.url


@contextlib.contextmanager
def stalled() -> Iterator[str]:
    with RedisProxy(None) as proxy:
        yield proxy.url


@contextlib.contextmanager
def absent() -> Iterator[str]:
    yield f"redis://127.0.0.1:{free_port()}/0"


@contextlib.contextmanager
def refused() -> Iterator[str]:
    with RedisServer(options=("--requirepass", "right")) as redis:
        yield f"redis://:wrong@127.0.0.1:{redis.port}/0"


@contextlib.contextmanager
def out_of_memory() -> Iterator[str]:
    import redis as redis_py

    with RedisServer(options=("--maxmemory", "2mb", "--maxmemory-policy", "noeviction")) as redis:
        filler = redis_py.Redis(port=redis.port)
        with contextlib.suppress(redis_py.exceptions.OutOfMemoryError):
            for index in range(100):
                filler.set(f"ballast:{index}", b"x" * 100_000)
        filler.close()
        yield redis.url


@contextlib.contextmanager
def tls_to_plaintext() -> Iterator[str]:
    with RedisServer() as redis:
        yield f"rediss://127.0.0.1:{redis.port}/0"


CASES: dict[str, Callable[[], contextlib.AbstractContextManager[str]]] = {
    "slow (every reply 0.4 s late)": slow,
    "stalled (never answers)": stalled,
    "absent (nothing listening)": absent,
    "password refused": refused,
    "out of memory": out_of_memory,
    "rediss:// to plaintext": tls_to_plaintext,
}


def overrun(store: str, servers: list[LoopbackServer], deadline: float) -> tuple[int, float]:
    """Calls failed, and the largest (end - deadline) of 8 calls on a fresh client."""
    entries = [
        {
            "name": name,
            "base_url": f"{server.url}/v1",
            "api_key": server.api_key,
            "priority": index,
            "rpm": 1000,
        }
        for index, (name, server) in enumerate(zip("AB", servers, strict=True))
    ]
    values: dict[str, Any] = {
        "chat_model": "gpt-4o-mini",
        "max_retries": 0,
        "deadline": deadline,
        "budget_store": store,
        "deployments": entries,
    }
    failed, worst = 0, -float("inf")

    def call(_: int) -> tuple[bool, float]:
        start = time.monotonic()
        try:
            client.chat("hi")
            ok = True
        except llmport.LLMPortError:
            ok = False
        return ok, time.monotonic() - start - deadline

    with llmport.from_dict(values) as client, ThreadPoolExecutor(4) as pool:
        results = list(pool.map(call, range(4))) + [call(i) for i in range(4)]
    for ok, over in results:
        failed += not ok
        worst = max(worst, over)
    return failed, worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deadlines", type=float, nargs="+", default=[0.3, 1.0, 2.0])
    args = parser.parse_args()
    print("Redis | deadline s | calls failed (of 8) | overrun s (max end - deadline)")
    with LoopbackServer() as a, LoopbackServer() as b:
        for name, case in CASES.items():
            for deadline in args.deadlines:
                with case() as store:
                    failed, worst = overrun(store, [a, b], deadline)
                print(f"{name} | {deadline:g} | {failed} | {worst:+.3f}", flush=True)


if __name__ == "__main__":
    main()
