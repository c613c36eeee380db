"""What the cassette hook costs a call when no cassette is on: a loopback chat call with and without it.

Three variants of the same client, interleaved round by round on one loopback server:
``no hook`` (llmport's transport with the hook's check taken out of its class, as before it
existed), ``hook, empty`` (as shipped, no cassette: one attribute read per request) and ``hook, a
pass-through recorder`` (a recorder installed that only forwards: the dispatch itself). Printed:
the median microseconds of a chat call for each, and the ratio to ``no hook``. Bounded: a few
seconds.

    .venv/bin/python benchmarks/cassette_hook.py [--rounds 400]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx2

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests" / "support")]

from loopback import LoopbackServer  # noqa: E402  # the tests' helpers, by path

import llmport  # noqa: E402
from llmport.adapters.llm.wire import transport  # noqa: E402
from llmport.adapters.recording import hook  # noqa: E402

PROMPT = [{"role": "user", "content": "ping"}]


class PassThrough:
    """A recorder that forwards everything: what dispatching through the stack costs."""

    def handle(self, request: httpx2.Request, send: hook.Send) -> httpx2.Response:
        return send(request)

    def token(self, fetch: Callable[[], str]) -> str:
        return fetch()


def without_hook() -> Callable[[], None]:
    """Take the hook's check out of llmport's transport class; return how to put it back."""
    recordable = transport._Recordable
    hooked = recordable.__dict__["handle_request"]
    recordable.handle_request = httpx2.HTTPTransport.handle_request  # type: ignore[method-assign]

    def restore() -> None:
        recordable.handle_request = hooked  # type: ignore[method-assign]

    return restore


def one_call(client: llmport.Client) -> float:
    start = time.perf_counter()
    client.chat(PROMPT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=400)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"no hook": [], "hook, empty": [], "hook, a pass-through recorder": []}
    with LoopbackServer(api_key="bench-key") as server:
        settings = llmport.Settings(
            provider="openai", base_url=f"{server.url}/v1", api_key="bench-key", chat_model="m", max_retries=0
        )
        with llmport.build_client(settings) as client:
            for _ in range(50):  # warm: connections, imports, caches
                client.chat(PROMPT)
            recorder = PassThrough()
            for _ in range(args.rounds):
                restore = without_hook()
                times["no hook"].append(one_call(client))
                restore()
                times["hook, empty"].append(one_call(client))
                hook.install(recorder)
                times["hook, a pass-through recorder"].append(one_call(client))
                hook.uninstall(recorder)
    base = statistics.median(times["no hook"])
    print(f"{args.rounds} interleaved rounds of a loopback chat call (median):")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:32} {median * 1e6:8.1f} us   ratio {median / base:.3f}")
    # The check alone, without the network: what an empty slot adds to each request.
    read = min(_time_read() for _ in range(5))
    print(f"  the empty slot's check alone:    {read * 1e9:8.1f} ns per request")


def _time_read(n: int = 200_000) -> float:
    start = time.perf_counter()
    for _ in range(n):
        if hook.STACK:
            pass
    return (time.perf_counter() - start) / n


if __name__ == "__main__":
    main()
