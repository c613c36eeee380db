"""The reply cache's figures, all from one run: ``.venv/bin/python benchmarks/cache.py [--quick]``.

Starts the tests' loopback OpenAI server on 127.0.0.1 (it counts requests and the inputs they carry)
and a real redis-server on a free port (stopped at the end), then times ``client.chat`` through the
real openai SDK over real HTTP:

* a miss (cache off; and cache on with a fresh question each call), a memory hit and a Redis hit:
  median and p90 in microseconds, each hit over the cache-off miss; the kinds are alternated in
  rounds so that the machine's noise falls on all of them;
* the same on the fake provider (it answers at once): cache off and a memory hit, the policy's own cost;
* cache off against llmport as it was before the cache (``cache_before.py``: the commit before
  issue 21, imported next to today's package), one call of each in turn in one process, over the
  loopback and on the fake provider (where the facade's own cost is the whole call);
* re-embedding: N texts through ``client.embed`` (memory, then Redis), then the same N with 10%
  changed: inputs sent the second time, counted at the server, and the time second/first.

Bounded: about a minute on a loaded 2-core machine (``--quick``: a few seconds).
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests" / "support")]

from cache_before import BEFORE, load_before  # noqa: E402  # a sibling module of a script
from loopback import LoopbackServer  # noqa: E402  # the tests' helpers, by path
from redis_server import RedisServer  # noqa: E402

import llmport  # noqa: E402

Call = Callable[[int], Any]
_FORK = multiprocessing.get_context("fork")
#: The embedding width asked for (``dimensions``): the loopback builds every vector it sends.
DIMENSIONS = 256


class CountingServer:
    """The tests' loopback server in a process of its own (in ours, it would take turns with the
    client for the GIL), counting the requests and the embedding inputs it receives."""

    api_key = "test-key"

    def __init__(self) -> None:
        self._requests = _FORK.Value("q", 0)
        self._inputs = _FORK.Value("q", 0)
        self._ports = _FORK.Queue()
        self._stop = _FORK.Event()
        self._process = _FORK.Process(target=self._serve, daemon=True)
        self.url = ""

    def _serve(self) -> None:
        def count(_index: int, request: Any) -> None:
            with self._requests.get_lock():
                self._requests.value += 1
            body = request.body if isinstance(request.body, dict) else {}
            if request.op == "embeddings" and isinstance(body.get("input"), list):
                with self._inputs.get_lock():
                    self._inputs.value += len(body["input"])

        with LoopbackServer(api_key=self.api_key) as server:
            server.respond_with(count)
            self._ports.put(server.url)
            self._stop.wait(600)  # bounded: the benchmark is long over by then

    @property
    def count(self) -> int:
        """Requests received so far."""
        return int(self._requests.value)

    @property
    def inputs(self) -> int:
        """Embedding inputs received so far."""
        return int(self._inputs.value)

    def __enter__(self) -> CountingServer:
        self._process.start()
        self.url = self._ports.get(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.terminate()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def samples(call: Call, count: int, start: int) -> list[float]:
    """Seconds per call of ``call(start)``, ``call(start + 1)``..."""
    out = []
    for number in range(start, start + count):
        began = time.perf_counter()
        call(number)
        out.append(time.perf_counter() - began)
    return out


def alternated(calls: dict[str, Call], rounds: int, per_round: int) -> dict[str, list[float]]:
    """Samples of every call, taken in ``rounds`` blocks whose order rotates each round."""
    names = list(calls)
    taken: dict[str, list[float]] = {name: [] for name in names}
    for number in range(rounds):
        for name in names[number % len(names) :] + names[: number % len(names)]:
            taken[name] += samples(calls[name], per_round, start=number * per_round)
    return taken


def settings(module: Any, server: CountingServer, **values: Any) -> Any:
    return module.Settings(
        provider="openai",
        base_url=f"{server.url}/v1",
        api_key=server.api_key,
        chat_model="gpt-4o-mini",
        embedding_model="text-embedding-3-small",
        max_retries=0,
        **values,
    )


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f}"


def chat_costs(server: CountingServer, redis: RedisServer, rounds: int, per_round: int) -> list[str]:
    """Misses and hits over the loopback, alternated: a table, with what each kind sent."""
    off = llmport.build_client(settings(llmport, server))
    memory = llmport.build_client(settings(llmport, server, cache="memory"))
    shared = llmport.build_client(settings(llmport, server, cache=redis.url))
    fresh = itertools.count()  # a question never asked before, per call
    for client in (off, memory, shared):
        client.chat("What is 2+2?")  # warm: connections, imports, and the stored reply
    calls: dict[str, Call] = {
        "miss, cache off": lambda _n: off.chat(f"Question {next(fresh):08d}?"),
        "miss, memory cache (a new question each call)": lambda _n: memory.chat(
            f"Question {next(fresh):08d}?"
        ),
        "miss, Redis cache (a new question each call)": lambda _n: shared.chat(
            f"Question {next(fresh):08d}?"
        ),
        "hit, memory": lambda _n: memory.chat("What is 2+2?"),
        "hit, Redis": lambda _n: shared.chat("What is 2+2?"),
    }
    sent = dict.fromkeys(calls, 0)
    taken = alternated(
        {name: _counting(server, call, sent, name) for name, call in calls.items()}, rounds, per_round
    )
    base = statistics.median(taken["miss, cache off"])
    rows = ["| chat over the loopback | median µs | p90 µs | / miss (cache off) | requests sent |"]
    rows.append("|---|--:|--:|--:|--:|")
    for name, times in taken.items():
        middle = statistics.median(times)
        rows.append(
            f"| {name} | {us(middle)} | {us(percentile(times, 0.9))} | {middle / base:.3f}x "
            f"| {sent[name]:,} of {len(times):,} |"
        )
    for client in (off, memory, shared):
        client.close()
    return rows


def _counting(server: CountingServer, call: Call, sent: dict[str, int], name: str) -> Call:
    def counted(number: int) -> Any:
        before = server.count
        result = call(number)
        sent[name] += server.count - before
        return result

    return counted


def fake_costs(rounds: int, per_round: int) -> list[str]:
    """The facade's own cost (the fake provider answers at once): no cache, and a memory hit."""
    off = llmport.build_client(llmport.Settings(provider="fake"))
    memory = llmport.build_client(llmport.Settings(provider="fake", cache="memory"))
    for client in (off, memory):
        client.chat("What is 2+2?")
    calls: dict[str, Call] = {
        "cache off": lambda _n: off.chat("What is 2+2?"),
        "hit, memory": lambda _n: memory.chat("What is 2+2?"),
    }
    taken = alternated(calls, rounds, per_round * 10)
    base = statistics.median(taken["cache off"])
    rows = ["| chat on the fake provider | median µs | p90 µs | / cache off |", "|---|--:|--:|--:|"]
    for name, times in taken.items():
        middle = statistics.median(times)
        rows.append(f"| {name} | {us(middle)} | {us(percentile(times, 0.9))} | {middle / base:.3f}x |")
    for client in (off, memory):
        client.close()
    return rows


def off_against_before(server: CountingServer, pairs: int) -> list[str]:
    """Cache off today against the code before the cache: one call of each in turn, in one process,
    so that the machine's noise falls on both alike."""
    before = load_before()
    cases = {
        "chat over the loopback": (
            before.build_client(settings(before, server)),
            llmport.build_client(settings(llmport, server)),
            pairs,
        ),
        "chat on the fake provider": (
            before.build_client(before.Settings(provider="fake")),
            llmport.build_client(llmport.Settings(provider="fake")),
            pairs * 10,  # 30x faster calls: more of them
        ),
    }
    rows = [
        f"| cache off against before ({BEFORE}), calls in turn | before µs | now µs | now / before "
        "| fastest 10%: now / before | calls of each |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for name, (old, new, count) in cases.items():
        clients = {"before": old, "now": new}
        times: dict[str, list[float]] = {label: [] for label in clients}
        for client in clients.values():
            samples(lambda _n, c=client: c.chat("What is 2+2?"), 50, 0)  # warm
        for number in range(count):
            for label in ("before", "now") if number % 2 == 0 else ("now", "before"):
                client = clients[label]
                began = time.perf_counter()
                client.chat("What is 2+2?")
                times[label].append(time.perf_counter() - began)
        old_median, new_median = statistics.median(times["before"]), statistics.median(times["now"])
        fastest = percentile(times["now"], 0.1) / percentile(times["before"], 0.1)
        rows.append(
            f"| {name} | {us(old_median)} | {us(new_median)} | {new_median / old_median:.3f}x "
            f"| {fastest:.3f}x | {count:,} |"
        )
        old.close()
        new.close()
    return rows


def reembed(server: CountingServer, redis: RedisServer, count: int, repeats: int) -> list[str]:
    """``count`` new texts embedded, then the same with one in ten changed, ``repeats`` times per
    store: the medians, and the inputs the second call sent (counted at the server)."""
    rows = [
        f"| re-embed {count:,} texts, 10% changed ({DIMENSIONS} dims), median of {repeats} | first s "
        "| second s | second / first | inputs sent second | client CPU second / first |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for name, store in (("memory", "memory"), ("Redis", redis.url)):
        client = llmport.build_client(settings(llmport, server, cache=store))
        client.embed("warm", dimensions=DIMENSIONS)
        firsts, seconds, sent = [], [], set()
        for repeat in range(repeats):
            texts = [
                f"{name} {repeat} document {i}: " + "lorem ipsum dolor sit amet " * 4 for i in range(count)
            ]
            firsts.append(_embed_timed(server, client, texts))
            changed = [f"{text} (edited)" if i % 10 == 0 else text for i, text in enumerate(texts)]
            seconds.append(_embed_timed(server, client, changed))
            sent.add(seconds[-1][2])
        first, second = (statistics.median(wall for wall, _cpu, _sent in runs) for runs in (firsts, seconds))
        cpu = statistics.median(s[1] for s in seconds) / statistics.median(f[1] for f in firsts)
        shown = " or ".join(f"{n:,}" for n in sorted(sent))
        rows.append(f"| {name} | {first:.3f} | {second:.3f} | {second / first:.3f}x | {shown} | {cpu:.3f}x |")
        client.close()
    return rows


def _embed_timed(
    server: CountingServer, client: llmport.Client, texts: list[str]
) -> tuple[float, float, int]:
    """Wall and client CPU seconds of one embed call, and the inputs it sent."""
    seen = server.inputs
    began, cpu = time.perf_counter(), time.process_time()
    reply = client.embed(texts, dimensions=DIMENSIONS)
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    assert len(reply.vectors) == len(texts)
    return wall, cpu, server.inputs - seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: few calls, 2,000 texts once")
    args = parser.parse_args(argv)
    rounds, per_round, texts, repeats = (2, 100, 2_000, 1) if args.quick else (6, 400, 10_000, 3)
    started = time.perf_counter()
    with CountingServer() as server, RedisServer() as redis:
        print(f"loopback {server.url}, redis-server on port {redis.port}", file=sys.stderr, flush=True)
        tables = [
            chat_costs(server, redis, rounds, per_round),
            fake_costs(rounds, per_round),
            off_against_before(server, rounds * per_round),
            reembed(server, redis, texts, repeats),
        ]
    for table in tables:
        print("\n".join(table), end="\n\n")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"{time.strftime('%Y-%m-%d', time.gmtime())}, {platform.python_implementation()} "
        f"{platform.python_version()}, {cores} cores, load {os.getloadavg()[0]:.1f}; "
        f"{time.perf_counter() - started:.0f} s, {'quick' if args.quick else 'full'} run"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
