"""One process of the shared-budget test: reserve against two budgets in Redis, print what was granted.

Run as ``python budget_worker.py URL PREFIX NOW START_AT COUNT``: every process gets the same
``NOW`` (one window), waits for the wall clock to reach ``START_AT`` so that all of them reserve
at once, then reserves ``COUNT`` times on each budget and prints ``{"requests": n, "tokens": n}``.
"""

from __future__ import annotations

import json
import sys
import time

from llmport.adapters.budget.redis_store import RedisBudgetStore
from llmport.domain.budget import Budget, Reservation

REQUESTS = Budget("by-requests", rpm=60)  # 1 request each
TOKENS = Budget("by-tokens", rpm=10_000, tpm=1000)  # 7 tokens each: 142 fit


def main(url: str, prefix: str, now: str, start_at: str, count: str) -> None:
    store = RedisBudgetStore(url, prefix=prefix, clock=lambda: float(now), timeout=5)
    store.remaining([REQUESTS])  # connected and its scripts loaded before the start: a fair race
    while time.time() < float(start_at):
        time.sleep(0.001)
    granted = {"requests": 0, "tokens": 0}
    for _ in range(int(count)):
        granted["requests"] += isinstance(store.reserve(REQUESTS, 0), Reservation)
        granted["tokens"] += isinstance(store.reserve(TOKENS, 7), Reservation)
    assert not store.using_fallback, "Redis failed during the run"
    store.close()
    print(json.dumps(granted))


if __name__ == "__main__":
    main(*sys.argv[1:])
