"""One contract for both budget stores (in-process memory and Redis against a real redis-server).

Time is a fake clock the test moves; the Redis store sends it to its Lua scripts, so both stores
see the same seconds. Redis-only cases: several processes sharing one budget, keys that expire,
Redis stopped in the middle of a run.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from clock import START, FakeClock
from redis_server import BINARY, SKIP_REASON, RedisServer

from llmport.adapters.budget.memory import MemoryBudgetStore
from llmport.adapters.llm.wire.rate_limits import rate_hint_from_headers
from llmport.domain.budget import Budget, Refusal, Reservation
from llmport.domain.ports import BudgetStore

needs_redis = pytest.mark.skipif(BINARY is None, reason=SKIP_REASON)


def redis_store(server: RedisServer, clock: Callable[[], float], **options: Any) -> Any:
    from llmport.adapters.budget.redis_store import RedisBudgetStore

    return RedisBudgetStore(server.url, prefix=f"test:{uuid.uuid4().hex}", clock=clock, **options)


@pytest.fixture(params=["memory", pytest.param("redis", marks=needs_redis)])
def store(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Any]:
    if request.param == "memory":
        built: Any = MemoryBudgetStore(clock=clock)
    else:
        built = redis_store(request.getfixturevalue("redis_server"), clock)
    yield built
    built.close()


def granted(answer: Reservation | Refusal) -> Reservation:
    assert isinstance(answer, Reservation), answer
    return answer


def refused(answer: Reservation | Refusal) -> Refusal:
    assert isinstance(answer, Refusal), answer
    return answer


def test_both_stores_are_budget_stores(store: Any) -> None:
    assert isinstance(store, BudgetStore)


def test_requests_are_counted_in_a_sliding_window_of_one_second_buckets(store: Any, clock: FakeClock) -> None:
    budget = Budget("d1", rpm=3)
    granted(store.reserve(budget, 0))
    granted(store.reserve(budget, 0))
    clock.advance(30)
    granted(store.reserve(budget, 0))
    full = refused(store.reserve(budget, 0))
    assert (full.reason, full.wait) == ("requests", pytest.approx(30.75, abs=0.002))
    clock.advance(30.75)  # the first two leave the window; the third stays until 30 s later
    granted(store.reserve(budget, 0))
    granted(store.reserve(budget, 0))
    assert refused(store.reserve(budget, 0)).wait == pytest.approx(30.0, abs=0.002)


def test_tokens_are_refused_with_the_wait_until_enough_leave_the_window(store: Any, clock: FakeClock) -> None:
    budget = Budget("d1", tpm=100)
    granted(store.reserve(budget, 60))
    clock.advance(10)
    granted(store.reserve(budget, 30))
    answer = refused(store.reserve(budget, 50))
    assert (answer.reason, answer.wait) == ("tokens", pytest.approx(50.75, abs=0.002))
    granted(store.reserve(budget, 10))
    never = refused(store.reserve(budget, 101))
    assert never.wait == math.inf


def test_reconcile_refunds_or_charges_the_difference(store: Any, clock: FakeClock) -> None:
    budget = Budget("d1", rpm=100, tpm=100)
    first = granted(store.reserve(budget, 80))
    assert store.remaining([budget])["d1"].tokens == 20
    store.reconcile(first, 30)
    assert store.remaining([budget])["d1"].tokens == 70
    second = granted(store.reserve(budget, 10))
    store.reconcile(second, 60)
    left = store.remaining([budget])["d1"]
    assert (left.requests, left.tokens, left.health, left.wait) == (98, 10, "closed", 0.0)
    clock.advance(61)
    store.reconcile(first, 0)  # its bucket has left the window: nothing to correct
    assert store.remaining([budget])["d1"].tokens == 100


def test_remaining_reads_several_deployments_in_one_call(store: Any, clock: FakeClock) -> None:
    budgets = [Budget("ptu", rpm=10, tpm=1000), Budget("paygo", tpm=500), Budget("free")]
    granted(store.reserve(budgets[0], 400))
    granted(store.reserve(budgets[1], 100))
    store.cool_down("free", clock() + 7)
    left = store.remaining(budgets)
    assert [(r.deployment, r.requests, r.tokens, r.wait) for r in left.values()] == [
        ("ptu", 9, 600, 0.0),
        ("paygo", None, 400, 0.0),
        ("free", None, None, pytest.approx(7.0, abs=0.002)),
    ]


def test_the_providers_hint_caps_the_budget_until_its_reset(store: Any, clock: FakeClock) -> None:
    budget = Budget("d1", rpm=100, tpm=10_000)
    hint = rate_hint_from_headers({"X-RateLimit-Remaining-Tokens": "50", "x-ratelimit-reset-tokens": "10"})
    store.reconcile(granted(store.reserve(budget, 10)), 10, hint)
    assert store.remaining([budget])["d1"].tokens == 50
    answer = refused(store.reserve(budget, 60))
    assert (answer.reason, answer.wait) == ("tokens", pytest.approx(10, abs=0.002))
    granted(store.reserve(budget, 50))
    assert refused(store.reserve(budget, 1)).reason == "tokens"
    clock.advance(10)
    granted(store.reserve(budget, 60))


def test_a_cooldown_refuses_until_its_time_and_a_later_one_wins(store: Any, clock: FakeClock) -> None:
    budget = Budget("d1", rpm=100)
    reservation = granted(store.reserve(budget, 5))
    assert store.fail(reservation, cool_until=clock() + 5, counts=False) == "closed"
    store.cool_down("d1", clock() + 2)  # earlier: does not shorten it
    answer = refused(store.reserve(budget, 5))
    assert (answer.reason, answer.wait) == ("cooling", pytest.approx(5, abs=0.002))
    clock.advance(5)
    granted(store.reserve(budget, 5))


def test_consecutive_failures_eject_and_one_probe_restores(store: Any, clock: FakeClock) -> None:
    budget = Budget("d1", eject_after=2, eject_for=20, probe_timeout=15)
    assert store.fail(granted(store.reserve(budget, 1))) == "closed"
    store.reconcile(granted(store.reserve(budget, 1)), 1)  # a success resets the count
    assert store.fail(granted(store.reserve(budget, 1))) == "closed"
    assert store.fail(granted(store.reserve(budget, 1))) == "open"
    answer = refused(store.reserve(budget, 1))
    assert (answer.reason, answer.wait) == ("ejected", pytest.approx(20, abs=0.002))
    clock.advance(20)
    assert store.remaining([budget])["d1"].health == "half_open"
    probe = granted(store.reserve(budget, 1))
    assert probe.probe
    assert refused(store.reserve(budget, 1)).reason == "probing"
    assert store.fail(probe) == "open"  # a failed probe ejects again at once
    clock.advance(20)
    lost = granted(store.reserve(budget, 1))  # its caller dies and never settles it
    assert lost.probe
    assert refused(store.reserve(budget, 1)).wait == pytest.approx(15, abs=0.002)
    clock.advance(15)  # given up after probe_timeout: another caller gets the probe
    second_probe = granted(store.reserve(budget, 1))
    assert second_probe.probe
    store.reconcile(second_probe, 1)
    after = [granted(store.reserve(budget, 1)) for _ in range(3)]
    assert not any(reservation.probe for reservation in after)
    assert store.remaining([budget])["d1"].health == "closed"


def test_a_429_cools_without_counting_towards_ejection(store: Any, clock: FakeClock) -> None:
    budget = Budget("d1", eject_after=1)
    assert store.fail(granted(store.reserve(budget, 1)), cool_until=clock() + 1, counts=False) == "closed"
    clock.advance(1)
    assert store.fail(granted(store.reserve(budget, 1))) == "open"


def test_exactly_one_of_eight_threads_gets_the_half_open_probe(store: Any, clock: FakeClock) -> None:
    budget = Budget("d1", eject_after=1, eject_for=5)
    store.fail(granted(store.reserve(budget, 1)))
    clock.advance(5)
    barrier = threading.Barrier(8)
    answers: list[Reservation | Refusal] = []
    lock = threading.Lock()

    def race() -> None:
        barrier.wait()
        answer = store.reserve(budget, 1)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    probes = [a for a in answers if isinstance(a, Reservation)]
    assert len(probes) == 1 and probes[0].probe
    assert sorted({a.reason for a in answers if isinstance(a, Refusal)}) == ["probing"]


def test_the_window_empties_itself(store: Any, clock: FakeClock) -> None:
    budget = Budget("d1", rpm=2, tpm=10)
    granted(store.reserve(budget, 10))
    granted(store.reserve(budget, 0))
    clock.advance(59.75)  # the bucket still counts a second longer: never too early
    assert store.remaining([budget])["d1"].requests == 0
    clock.advance(1)
    left = store.remaining([budget])["d1"]
    assert (left.requests, left.tokens) == (2, 10)


def test_bad_token_counts_are_refused_before_anything_is_counted(store: Any) -> None:
    from llmport.domain.errors import ValidationError

    for bad in (-1, 1.5, True):
        with pytest.raises(ValidationError, match="tokens must be an integer"):
            store.reserve(Budget("d1", tpm=10), bad)


# -- Redis only: processes sharing one budget, keys that expire, Redis going away --------------------

PROCESSES, RESERVATIONS = 4, 60


@needs_redis
def test_processes_sharing_a_budget_through_redis_never_exceed_it(redis_server: RedisServer) -> None:
    worker = str(Path(__file__).parent / "budget_worker.py")
    prefix, start_at = f"test:{uuid.uuid4().hex}", time.time() + 2.5
    args = [redis_server.url, prefix, repr(START), repr(start_at), str(RESERVATIONS)]
    running = [
        subprocess.Popen([sys.executable, worker, *args], stdout=subprocess.PIPE, text=True)
        for _ in range(PROCESSES)
    ]
    results = [json.loads(process.communicate(timeout=30)[0]) for process in running]
    assert all(process.returncode == 0 for process in running)
    # 4 x 60 requests against rpm=60, and 4 x 60 x 7 tokens against tpm=1000: exactly the limits.
    assert sum(result["requests"] for result in results) == 60
    assert sum(result["tokens"] for result in results) == 1000 // 7
    assert sum(1 for result in results if result["requests"] > 0) > 1  # they did share it


@needs_redis
def test_the_redis_keys_expire_by_themselves(redis_server: RedisServer, clock: FakeClock) -> None:
    import redis

    store = redis_store(redis_server, clock, margin=10)
    budget = Budget("d1", rpm=5, eject_after=1, eject_for=100)
    store.fail(granted(store.reserve(budget, 3)))
    client = redis.Redis.from_url(redis_server.url)
    window, state = (client.pttl(f"{store._prefix}:{{d1}}:{kind}") for kind in ("w", "s"))
    assert 61_000 < window <= 71_000  # a bucket's lifetime plus the margin
    assert 161_000 < state <= 171_000  # the ejection's end, plus the window and the margin
    client.close()
    store.close()


def test_the_memory_store_forgets_idle_deployments(clock: FakeClock) -> None:
    store = MemoryBudgetStore(clock=clock)
    granted(store.reserve(Budget("d1", rpm=5), 1))
    clock.advance(72)
    granted(store.reserve(Budget("d2", rpm=5), 1))
    assert repr(store) == "MemoryBudgetStore(deployments=1)"


@needs_redis
def test_redis_stopped_mid_run_falls_back_once_and_comes_back(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="llmport.budget")
    budget = Budget("d1", rpm=1000, tpm=100_000)
    with RedisServer() as server:
        store = redis_store(server, clock, retry_every=30)
        before = granted(store.reserve(budget, 10))
        assert before.origin == "redis"
        server.stop()
        answers = [store.reserve(budget, 10) for _ in range(20)]
        store.reconcile(before, 5)  # made on Redis, settled while it is down: no error
        assert all(isinstance(answer, Reservation) and answer.origin == "memory" for answer in answers)
        store.reconcile(answers[0], 12)
        # the 20, and the one Redis counted when the store last read it (its share: 1 process)
        assert store.remaining([budget])["d1"].requests == 1000 - 20 - 1
        server.start()  # back, empty, on the same port
        clock.advance(10)
        assert store.reserve(budget, 10).origin == "memory"  # not retried before retry_every
        clock.advance(20)
        assert store.reserve(budget, 10).origin == "redis"
        assert not store.using_fallback
        store.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and "unreachable" in warnings[0], warnings
    assert "lost every budget" in warnings[1] and "appendonly yes" in warnings[1]  # restarted empty
    assert any("reachable again" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)
