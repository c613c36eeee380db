"""Leases of the Redis budget store: a router's steady state with no round trip per call, no weaker.

Against a real redis-server, with a fake clock the tests move. A lease is room for a few calls,
charged in Redis at once; these tests hold it to the store's promises: a call from a lease sends
nothing to Redis; stores sharing one budget never get more than its limits over any minute;
what a lease leaves unused goes back; a cooldown or an ejection set by one store stops another's
lease after that store's next round trip, and within one lease lifetime at most; near the limits
every call is reserved exactly.
"""

from __future__ import annotations

import math
import random
import threading
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from clock import START, FakeClock
from redis_server import BINARY, SKIP_REASON, RedisServer

from llmport.domain.budget import Budget, RateHint, Refusal, Remaining, Reservation

pytestmark = pytest.mark.skipif(BINARY is None, reason=SKIP_REASON)

LEASE = 0.25  # the store's default lease lifetime


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex}"


def counting_store(server: RedisServer, prefix: str, clock: FakeClock, **options: Any) -> Any:
    """A RedisBudgetStore that counts its round trips (each ``_pipeline`` is one)."""
    from llmport.adapters.budget.redis_store import RedisBudgetStore

    class Counting(RedisBudgetStore):
        round_trips = 0

        def _pipeline(self, commands: Any, now: str) -> list[Any]:
            self.round_trips += 1
            return super()._pipeline(commands, now)

    return Counting(server.url, prefix=prefix, clock=clock, **options)


@pytest.fixture
def stores(redis_server: RedisServer, prefix: str, clock: FakeClock) -> Iterator[list[Any]]:
    """Four stores on one prefix (four processes), and the test's observer: a fifth, without leases."""
    built = [counting_store(redis_server, prefix, clock) for _ in range(4)]
    built.append(counting_store(redis_server, prefix, clock, lease_seconds=0))
    yield built
    for store in built:
        store.close()


def granted(answer: Reservation | Refusal) -> Reservation:
    assert isinstance(answer, Reservation), answer
    return answer


def refused(answer: Reservation | Refusal) -> Refusal:
    assert isinstance(answer, Refusal), answer
    return answer


def call(store: Any, budget: Budget, tokens: int, budgets: Sequence[Budget] = ()) -> Reservation | Refusal:
    answer, _ = store.reserve_and_read(budget, tokens, budgets or [budget])
    return answer


def scripts_run(observer: Any) -> int:
    """How many scripts Redis has run so far (every store's, as its own statistics count them)."""
    return int(observer._redis.info("commandstats")["cmdstat_evalsha"]["calls"])


def used_in_redis(observer: Any, budget: Budget) -> tuple[int, int]:
    """Requests and tokens counted in Redis now (leases included), as another process reads them."""
    left = observer.remaining([budget])[budget.deployment]
    assert budget.rpm is not None and budget.tpm is not None
    return budget.rpm - left.requests, budget.tpm - left.tokens


def test_calls_from_a_lease_send_nothing_to_redis_and_see_the_budgets_last_read(
    stores: list[Any], clock: FakeClock
) -> None:
    store, observer = stores[0], stores[-1]
    budget, other = Budget("d1", rpm=10_000, tpm=1_000_000), Budget("d2", rpm=50)
    answer, view = store.reserve_and_read(budget, 100, [budget, other])
    assert store.round_trips == 1 and granted(answer).second == math.floor(clock())
    # The round trip took the call and a lease of 8 more like it (the first lease's size).
    assert used_in_redis(observer, budget) == (1 + 8, 100 * 9)
    # What this store can use: Redis's count, the lease's room added back.
    assert (view["d1"].requests, view["d1"].tokens) == (10_000 - 1, 1_000_000 - 100)
    read = view
    for _ in range(8):
        clock.advance(0.01)
        answer, view = store.reserve_and_read(budget, 100, [budget, other])
        leased = granted(answer)
        assert (leased.origin, leased.probe) == ("redis", False)
        assert leased.second == math.floor(START + LEASE)  # the bucket the lease ends in
        # The budgets that round trip read, as the same mapping: a router plans from it once.
        assert view is read
        assert view["d2"] == Remaining("d2", 50, None, "closed", 0.0)
    assert store.round_trips == 1  # eight calls, no request to Redis
    granted(call(store, budget, 100, [budget, other]))  # the lease is used up: a round trip, a new lease
    assert store.round_trips == 2
    assert used_in_redis(observer, budget) == (10 + 16, 100 * 26)  # twice as large: it was used up


def test_a_lease_serves_a_call_only_while_it_lasts_and_has_its_tokens(
    stores: list[Any], clock: FakeClock
) -> None:
    store = stores[0]
    budget = Budget("d1", rpm=10_000, tpm=1_000_000)
    granted(call(store, budget, 100))  # a lease of 8 calls x 100 tokens
    granted(call(store, budget, 700))
    assert store.round_trips == 1
    granted(call(store, budget, 200))  # 100 tokens left in the lease: Redis is asked
    assert store.round_trips == 2
    clock.advance(LEASE)  # the new lease has ended: Redis is asked again
    granted(call(store, budget, 200))
    assert store.round_trips == 3


def test_reconcile_and_fail_settle_a_leased_call_in_its_lease_bucket(
    stores: list[Any], clock: FakeClock
) -> None:
    store, observer = stores[0], stores[-1]
    budget = Budget("d1", rpm=10_000, tpm=1_000_000, eject_after=5)
    granted(call(store, budget, 100))
    first, second = granted(call(store, budget, 100)), granted(call(store, budget, 100))
    store.reconcile(first, 40)  # deferred: sent with the store's next request
    store.fail(second, counts=False)  # a failure ends the lease: 6 calls' room go back with it
    assert used_in_redis(observer, budget) == (3, 100 + 40 + 0)
    assert store.round_trips == 2  # the first call, and fail()'s own


def test_the_settlements_of_a_leases_calls_go_to_redis_as_one(stores: list[Any], clock: FakeClock) -> None:
    store, observer = stores[0], stores[-1]
    budget = Budget("d1", rpm=10_000, tpm=1_000_000)
    calls = [granted(call(store, budget, 100)) for _ in range(9)]  # one round trip, then the lease
    assert store.round_trips == 1 and len({c.second for c in calls}) == 1  # one bucket: nows
    hints = [None] * 7 + [RateHint(remaining_requests=9995), RateHint(remaining_tokens=999_600)]
    for n, (reservation, hint) in enumerate(zip(calls, hints, strict=True)):
        store.reconcile(reservation, 50 + n, hint)
    assert store.round_trips == 1  # settled with the next request: none yet
    scripts_before = scripts_run(observer)
    store.flush()
    # One script run (not nine): the sum of the refunds, the newest hint of each kind.
    assert scripts_run(observer) - scripts_before == 1
    assert used_in_redis(observer, budget) == (9, sum(50 + n for n in range(9)))
    left = observer.remaining([Budget("d1")])["d1"]  # no limits: only the provider's hints cap it
    assert (left.requests, left.tokens) == (9995, 999_600)


def test_stores_sharing_one_budget_never_get_more_than_its_limits_over_any_minute(
    stores: list[Any], clock: FakeClock
) -> None:
    """Four stores (processes), calls of random sizes settled at random, 130 s of fake time."""
    rng = random.Random(12)
    budget = Budget("d1", rpm=600, tpm=60_000)
    calls: list[tuple[float, int]] = []  # when each granted call could be sent, and what it used
    waiting: list[tuple[Any, Reservation, int]] = []
    asked = 0
    end = clock() + 150
    while clock() < end:
        for store in stores[:4]:
            for _ in range(rng.randint(0, 3)):
                tokens = rng.randint(10, 150)
                asked += 1
                answer = call(store, budget, tokens)
                if isinstance(answer, Reservation):
                    used = rng.randint(tokens // 2, tokens)
                    calls.append((clock(), used))
                    waiting.append((store, answer, used))
        while waiting and rng.random() < 0.7:
            owner, reservation, used = waiting.pop(rng.randrange(len(waiting)))
            owner.reconcile(reservation, used)
        clock.advance(rng.choice([0.01, 0.05, 0.2]))
    assert asked - sum(store.round_trips for store in stores[:4]) > 100  # calls served from leases
    for at, _ in calls:
        # The provider counts an exact minute: every call sent in (at - 60, at].
        minute = [used for sent, used in calls if at - 60 < sent <= at]
        assert len(minute) <= budget.rpm
        assert sum(minute) <= budget.tpm  # the estimate was charged until the settlement
    assert len(calls) > 2 * budget.rpm  # the run did fill the budget in more than one minute


def test_a_lease_counts_its_calls_until_the_provider_frees_them_across_a_second_boundary(
    stores: list[Any], clock: FakeClock
) -> None:
    """A lease taken late in a second serves calls in the next: they count as long as if each had
    been reserved when it was made, so the window never gives their room back early."""
    first, second = stores[0], stores[1]
    budget = Budget("d1", rpm=640, tpm=1_000_000)
    start = math.floor(START)
    clock.now = start + 0.9
    granted(call(first, budget, 10))  # one call, and a lease lasting into the next second
    clock.now = start + 1.1
    leased = granted(call(first, budget, 10))
    assert leased.second == start + 1  # as if reserved now
    first.close()  # the lease's other calls go back
    while isinstance(second.reserve(budget, 10), Reservation):
        pass  # the window is full: 640 calls, the first made at .9, the others at 1.1
    clock.now = start + 61.05  # the provider's minute has freed the call made at .9, no other
    granted(second.reserve(budget, 10))
    assert refused(second.reserve(budget, 10)).reason == "requests"
    clock.now = start + 61.95
    assert refused(second.reserve(budget, 10)).reason == "requests"


def test_threads_of_four_stores_draw_exactly_the_limit_and_leave_nothing_held(stores: list[Any]) -> None:
    """A frozen clock: leases never end, so each store's lease is used up or given back."""
    budget = Budget("d1", rpm=4000, tpm=4000 * 30)
    counts = [0] * 8
    barrier = threading.Barrier(8)

    def draw(index: int) -> None:
        store = stores[index % 4]
        barrier.wait()
        while isinstance(call(store, budget, 30), Reservation):
            counts[index] += 1

    threads = [threading.Thread(target=draw, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = sum(counts)
    assert total <= budget.rpm
    for store in stores[:4]:
        store.close()  # gives back what their leases left
    # Every lease was used up or given back: Redis counts exactly the calls granted ...
    assert used_in_redis(stores[-1], budget) == (total, 30 * total)
    # ... and at most a few leases' room was left for a moment by threads that had stopped.
    assert total >= budget.rpm - 4 * (budget.rpm // 32)
    assert sum(store.round_trips for store in stores[:4]) < total  # leases were used


def test_what_a_lease_leaves_unused_goes_back_when_it_ends_and_on_close(
    stores: list[Any], clock: FakeClock
) -> None:
    store, observer = stores[0], stores[-1]
    budget = Budget("d1", rpm=10_000, tpm=1_000_000)
    granted(call(store, budget, 100))
    granted(call(store, budget, 100))
    assert used_in_redis(observer, budget) == (9, 900)  # the lease is room counted in Redis ...
    left = store.remaining([budget])["d1"]  # ... that its own store counts as room it has
    assert (left.requests, left.tokens) == (10_000 - 2, 1_000_000 - 200)
    clock.advance(LEASE)  # it ended with 7 calls unused: the next round trip gives them back
    granted(call(store, budget, 100))
    # 3 calls, and the next lease: twice the calls the last one served (1), at least 2.
    assert used_in_redis(observer, budget) == (3 + 2, 500)
    store.close()
    assert used_in_redis(observer, budget) == (3, 300)


def test_a_cooldown_set_by_one_store_stops_anothers_lease_after_its_next_round_trip(
    stores: list[Any], clock: FakeClock
) -> None:
    first, second = stores[0], stores[1]
    d1, d2 = Budget("d1", rpm=10_000, tpm=1_000_000), Budget("d2", rpm=10_000)
    both = [d1, d2]
    granted(call(second, d1, 10, both))  # second holds a lease on d1
    first.cool_down("d1", clock() + 5)  # a 429 met by another process
    granted(call(second, d1, 10, both))  # from the lease: second has not asked Redis since
    assert second.round_trips == 1
    answer, view = second.reserve_and_read(d2, 10, both)  # any round trip reads every budget ...
    granted(answer)
    assert view["d1"].wait == pytest.approx(5, abs=0.002)
    assert refused(call(second, d1, 10, both)).reason == "cooling"  # ... and ends d1's lease
    # Without any other round trip, the lease's lifetime bounds it.
    first.cool_down("d2", clock() + 5)  # second took a lease on d2 with its last round trip
    clock.advance(0.1)
    granted(call(second, d2, 10, both))  # within the lease's lifetime
    clock.advance(LEASE)
    assert refused(call(second, d2, 10, both)).reason == "cooling"


def test_an_ejection_ends_the_leases_and_the_probe_never_comes_from_one(
    stores: list[Any], clock: FakeClock
) -> None:
    first, second = stores[0], stores[1]
    d1 = Budget("d1", rpm=10_000, tpm=1_000_000, eject_after=1, eject_for=10)
    granted(call(second, d1, 10))  # second holds a lease
    assert first.fail(granted(call(first, d1, 10))) == "open"  # first's own lease ends with it
    assert refused(call(first, d1, 10)).reason == "ejected"
    clock.advance(LEASE)
    assert refused(call(second, d1, 10)).reason == "ejected"
    clock.advance(10)  # half-open: one probe, from Redis, to one store
    trips = second.round_trips
    probe = granted(call(second, d1, 10))
    assert probe.probe and second.round_trips == trips + 1
    assert refused(call(first, d1, 10)).reason == "probing"
    assert refused(call(second, d1, 10)).reason == "probing"  # the probe took no lease
    second.reconcile(probe, 10)  # restored: sent at once
    granted(call(first, d1, 10))  # leases again: healthy, plenty of room
    trips = first.round_trips
    granted(call(first, d1, 10))
    assert first.round_trips == trips


def test_a_failure_counted_on_a_deployment_stops_its_leases_until_a_success(
    stores: list[Any], clock: FakeClock
) -> None:
    first, second = stores[0], stores[1]
    d1 = Budget("d1", rpm=10_000, tpm=1_000_000, eject_after=3)
    first.fail(granted(call(first, d1, 10)))  # one failure counted: not ejected, not healthy either
    for _ in range(3):
        granted(call(second, d1, 10))
    assert second.round_trips == 3
    second.reconcile(granted(call(second, d1, 10)), 10)  # a success resets the count ...
    granted(call(second, d1, 10))  # ... sent with this round trip, which takes a lease
    trips = second.round_trips
    granted(call(second, d1, 10))
    assert second.round_trips == trips


def test_leases_stop_near_the_limit_and_every_call_there_is_reserved_exactly(
    stores: list[Any], clock: FakeClock
) -> None:
    store, other, observer = stores[0], stores[1], stores[-1]
    budget = Budget("d1", rpm=640, tpm=640 * 20)  # a lease: at most 20 calls, and none past half
    answers = [call(store, budget, 10) for _ in range(640)]
    assert all(isinstance(answer, Reservation) for answer in answers)
    assert refused(call(store, budget, 10)).reason == "requests"
    assert refused(call(other, budget, 10)).reason == "requests"
    assert used_in_redis(observer, budget) == (640, 6400)
    # Leases up to half the limit; from there on one round trip per call.
    assert 320 < store.round_trips < 320 + 320 // 2
    before = store.round_trips
    clock.advance(61)  # the window is empty again
    for _ in range(10):
        granted(call(store, budget, 10))
    assert store.round_trips < before + 10


def test_the_providers_hint_stops_leases_when_it_says_room_is_short(
    stores: list[Any], clock: FakeClock
) -> None:
    store = stores[0]
    budget = Budget("d1", rpm=10_000, tpm=1_000_000)
    leased = granted(call(store, budget, 100))
    granted(call(store, budget, 100))
    # The reply says the provider has 1000 tokens left: less than twice the lease's 700.
    store.reconcile(leased, 100, RateHint(remaining_requests=500, remaining_tokens=1000, reset_tokens=30))
    trips = store.round_trips
    for _ in range(3):  # no lease while the hint holds: 1000 tokens cannot cover 2 x (1 + 2) calls
        granted(call(store, budget, 100))
    assert store.round_trips == trips + 3
    refused(call(store, budget, 800))  # and the hint was spent by every call, leased or not
    clock.advance(30)  # the hint has expired: leases again
    granted(call(store, budget, 100))
    trips = store.round_trips
    granted(call(store, budget, 100))
    assert store.round_trips == trips


def test_no_lease_without_limits_or_with_too_small_ones(stores: list[Any]) -> None:
    store = stores[0]
    for budget in (Budget("free"), Budget("small", rpm=63, tpm=1_000_000), Budget("big-calls", tpm=32_000)):
        before = store.round_trips
        for _ in range(3):
            granted(call(store, budget, 600))
        assert store.round_trips == before + 3, budget


def test_reserve_alone_never_leases(stores: list[Any]) -> None:
    store, observer = stores[0], stores[-1]
    budget = Budget("d1", rpm=10_000, tpm=1_000_000)
    for _ in range(3):
        granted(store.reserve(budget, 10))
    assert store.round_trips == 3
    assert used_in_redis(observer, budget) == (3, 30)


def test_after_a_fork_the_child_asks_redis_and_leaves_the_parents_lease_to_the_parent(
    stores: list[Any],
) -> None:
    store, observer = stores[0], stores[-1]
    budget = Budget("d1", rpm=10_000, tpm=1_000_000)
    granted(call(store, budget, 10))
    store.after_fork()  # as in a forked child
    trips = store.round_trips
    granted(call(store, budget, 10))
    assert store.round_trips == trips + 1
    assert used_in_redis(observer, budget) == (1 + 8 + 1 + 8, 180)  # the parent's lease is not returned


def test_redis_stopped_ends_the_leases_and_calls_go_on_from_memory(clock: FakeClock) -> None:
    budget = Budget("d1", rpm=10_000, tpm=1_000_000)
    with RedisServer() as server:
        store = counting_store(server, "test:down", clock)
        granted(call(store, budget, 10))
        server.stop()
        granted(call(store, budget, 10))  # from the lease: nothing asked Redis yet
        clock.advance(LEASE)
        answers = [call(store, budget, 10) for _ in range(5)]
        assert all(granted(answer).origin == "memory" for answer in answers)
        assert store.using_fallback and not store._leases
        store.close()
