"""Every (provider, operation) against raw servers that drip, stall or stream slowly, on the real clock.

Used by test_deadline.py and by report.py, which prints the table for docs/reliability.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from harness import PROVIDERS, raw_settings
from raw_server import Behaviour, RawServer, drip, slow_stream, stall

import llmport
from llmport import Client

DEADLINE = 2.0
#: What the promise allows past the deadline: the last socket wait is clamped to the time left,
#: and a thread switch or two on a busy 2-core machine.
SLACK = 1.0

OPERATIONS: dict[str, Callable[[Client], object]] = {
    "chat": lambda client: client.chat("hi"),
    "stream": lambda client: list(client.stream("hi")),
    "embed": lambda client: client.embed(["a", "b"]),
}


def timed(operation: Callable[[Client], object], client: Client) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        operation(client)
    except BaseException as error:
        return time.monotonic() - started, error
    return time.monotonic() - started, None


# (behaviour, operations, settings): the timeout is httpx's, per socket operation.
FAULTS: dict[str, tuple[Behaviour, tuple[str, ...], dict[str, Any]]] = {
    "drip-body": (drip(interval=0.2), ("chat", "embed"), {"timeout": 1.0}),
    "drip-headers": (drip(interval=0.2, headers_too=True), ("chat", "stream", "embed"), {"timeout": 1.0}),
    # A 1.2 s timeout, retried: without the deadline 3 attempts would take 3.6 s and more.
    "stall": (stall(), ("chat", "stream", "embed"), {"timeout": 1.2}),
    # Each event comes within the 5 s timeout; only the deadline ends the stream.
    "slow-stream": (slow_stream(interval=1.5), ("stream",), {"timeout": 5.0}),
}


def measure(fault: str) -> list[tuple[str, str, float, BaseException | None]]:
    """Run every (provider, operation) of ``fault`` at once; (provider, operation, seconds, error) each."""
    behaviour, operations, options = FAULTS[fault]
    with RawServer(behaviour) as server:
        clients = {
            provider: llmport.build_client(raw_settings(server.url, provider, deadline=DEADLINE, **options))
            for provider in PROVIDERS
        }
        cases = [(provider, name) for provider in PROVIDERS for name in operations]
        try:
            with ThreadPoolExecutor(len(cases)) as pool:
                results = list(pool.map(lambda case: timed(OPERATIONS[case[1]], clients[case[0]]), cases))
        finally:
            for client in clients.values():
                client.close()
    return [
        (provider, name, elapsed, error)
        for (provider, name), (elapsed, error) in zip(cases, results, strict=True)
    ]
