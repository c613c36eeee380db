"""The load loop of one routing-benchmark process (standard library only: LiteLLM's venv runs it too).

The process builds its client, prints ``ready``, reads ``START END`` (wall-clock seconds) from
stdin, then runs its threads from START to END: each thread sends one call after another and
records when it ended, whether it succeeded and where it went (or the error's type and code).
At END it prints one JSON line and exits at once: calls still in flight then (waiting for budget
in a retry, typically) are counted as ``in_flight``, never as errors or successes.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any


def error_code(error: BaseException) -> str:
    """The error's code (llmport's ``code``, or an HTTP status), for grouping; '' if none.

    A connection failure says whether its request had been sent (llmport's ``sent``).
    """
    code = ""
    for name in ("code", "status_code"):
        value = getattr(error, name, None)
        if value not in (None, ""):
            code = str(value)
            break
    sent = getattr(error, "sent", None)
    if isinstance(sent, bool):
        code = f"{code}, sent={sent}" if code else f"sent={sent}"
    return code


def run(call: Callable[[], str], threads: int, info: dict[str, Any] | None = None) -> None:
    """Run ``call`` (returns the deployment that served it) on ``threads`` threads; print the results."""
    print("ready", flush=True)
    line = sys.stdin.readline()
    if not line:  # the parent went away before the start
        os._exit(2)
    start, end = (float(part) for part in line.split())
    lock = threading.Lock()
    served: dict[str, int] = {}
    errors: list[tuple[float, str, str]] = []
    messages: dict[str, str] = {}
    latencies: list[float] = []
    in_flight = [0]

    def loop() -> None:
        while time.time() < start:
            time.sleep(min(0.01, max(start - time.time(), 0)))
        while True:
            began = time.time()
            if began >= end:
                return
            with lock:
                in_flight[0] += 1
            try:
                where = call()
            except Exception as exc:  # every failure a caller would see is a figure
                ended = time.time()
                with lock:
                    in_flight[0] -= 1
                    if ended <= end:
                        name = type(exc).__name__
                        errors.append((ended, name, error_code(exc)))
                        messages.setdefault(name, str(exc)[:300])
                continue
            ended = time.time()
            with lock:
                in_flight[0] -= 1
                if ended <= end:
                    served[where] = served.get(where, 0) + 1
                    latencies.append(ended - began)

    workers = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    time.sleep(max(end - time.time(), 0) + 0.05)
    with lock:
        ordered = sorted(latencies)
        result = {
            "pid": os.getpid(),
            "served": dict(served),
            "errors": list(errors),
            "messages": dict(messages),
            "in_flight": in_flight[0],
            "latency_p50": ordered[len(ordered) // 2] if ordered else None,
            "latency_p99": ordered[int(len(ordered) * 0.99)] if ordered else None,
            **(info or {}),
        }
    print(json.dumps(result), flush=True)
    os._exit(0)  # threads asleep in a retry's wait must not hold the process
