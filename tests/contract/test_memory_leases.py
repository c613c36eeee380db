"""Leases of the memory budget store, as a router's lane uses them.

A caller that reads nothing with its reservation is lent room for its next calls; the calls take
from it and settle on it without asking the store. These tests hold the memory store to the
promises the Redis store's leases keep (tests/contract/test_budget_leases.py): never more than
the limits, what a lease leaves goes back, its calls' settlements count, a failure, a cooldown or
a short hint ends it, and near the limits every call is reserved exactly.
"""

from __future__ import annotations

import threading

import pytest
from clock import FakeClock

from llmport.adapters.budget.memory import MemoryBudgetStore
from llmport.domain.budget import Budget, Lease, RateHint, Refusal, Reservation
from llmport.domain.errors import ConfigurationError

LEASE = 0.25  # the store's default lease lifetime


class Lane:
    """A router's lane, reduced to its budget: take from the lease the store last lent, else
    reserve, reading nothing (which is what lets the store lend)."""

    def __init__(self, store: MemoryBudgetStore, budget: Budget) -> None:
        self.store, self.budget = store, budget
        self.lease: Lease | None = None
        self.asked = 0  # reservations the store was asked for

    def call(self, tokens: int) -> Reservation | Lease | Refusal:
        if self.lease is not None and self.lease.take(tokens, self.store.clock()):
            return self.lease
        self.asked += 1
        answer, read = self.store.reserve_and_read(self.budget, tokens, ())
        assert read == {}
        self.lease = answer.lease if isinstance(answer, Reservation) else None
        return answer

    def settle(
        self, taken: Reservation | Lease | Refusal, tokens: int, used: int, hint: RateHint | None = None
    ) -> None:
        if isinstance(taken, Lease):
            if taken.settle(used - tokens, hint):
                return
            taken = taken.reservation(tokens)
        assert isinstance(taken, Reservation)
        self.store.reconcile(taken, used, hint)


def room(store: MemoryBudgetStore, budget: Budget, tokens: int = 1) -> int:
    """How many more calls of ``tokens`` the store grants now, taking them all (it ends full)."""
    count = 0
    while isinstance(store.reserve(budget, tokens), Reservation):
        count += 1
    return count


def test_a_lane_is_lent_room_and_its_calls_ask_the_store_nothing(clock: FakeClock) -> None:
    store = MemoryBudgetStore(clock=clock)
    lane = Lane(store, Budget("d1", rpm=10_000, tpm=1_000_000))
    first = lane.call(100)
    assert isinstance(first, Reservation) and first.lease is not None and first.lease.calls == 8
    taken = [lane.call(100) for _ in range(8)]
    assert all(isinstance(each, Lease) for each in taken) and lane.asked == 1
    assert isinstance(lane.call(100), Reservation) and lane.asked == 2  # used up: asked again ...
    assert lane.lease is not None and lane.lease.calls == 16  # ... and lent twice as much


def test_the_lent_room_is_counted_at_once_and_what_is_left_comes_back(clock: FakeClock) -> None:
    budget = Budget("d1", rpm=640, tpm=1_000_000)
    store = MemoryBudgetStore(clock=clock)
    Lane(store, budget).call(10)  # one call and a lease of 8: 9 counted, whoever asks next
    assert room(store, budget) == 640 - 9

    store = MemoryBudgetStore(clock=clock)
    lane = Lane(store, budget)
    lane.call(10)
    lane.call(10)  # one of the 8 used
    assert store.remaining([budget])["d1"].requests == 640 - 2  # lent room is this process's room
    clock.advance(LEASE)  # it has ended: a read of the deployment gives back the 7 unused
    assert store.remaining([budget])["d1"].requests == 640 - 2
    assert room(store, budget) == 640 - 2


def test_the_settlements_of_a_leases_calls_count_when_it_ends(clock: FakeClock) -> None:
    budget = Budget("d1", rpm=1000, tpm=100_000)
    store = MemoryBudgetStore(clock=clock)
    lane = Lane(store, budget)
    lane.settle(lane.call(100), 100, 100)
    for _ in range(8):
        lane.settle(lane.call(100), 100, 40)  # each gives 60 tokens back, kept on the lease
    assert store.remaining([budget])["d1"].tokens == 100_000 - 100 - 8 * 40  # a read collects them
    lane.settle(lane.call(100), 100, 130)  # the lease used up: a new one; this call charges 30 more
    assert store.remaining([budget])["d1"].tokens == 100_000 - 100 - 8 * 40 - 130


def test_a_settlement_after_its_lease_ended_goes_to_the_store(clock: FakeClock) -> None:
    budget = Budget("d1", rpm=1000, tpm=100_000)
    store = MemoryBudgetStore(clock=clock)
    lane = Lane(store, budget)
    lane.call(100)
    late = lane.call(100)  # a long call, taken from the lease ...
    assert isinstance(late, Lease)
    clock.advance(LEASE)
    store.remaining([budget])  # ... which ends before the call does
    assert late.closed
    lane.settle(late, 100, 10)  # settled with the store, in the lease's bucket
    assert store.remaining([budget])["d1"].tokens == 100_000 - 100 - 10


def test_a_failure_ends_the_lease_and_no_lease_is_lent_until_a_success(clock: FakeClock) -> None:
    store = MemoryBudgetStore(clock=clock)
    budget = Budget("d1", rpm=10_000, tpm=1_000_000, eject_after=3)
    lane = Lane(store, budget)
    lane.call(10)
    taken = lane.call(10)
    assert isinstance(taken, Lease)
    assert store.fail(taken.reservation(10)) == "closed"  # one failure counted
    assert taken.closed and not taken.take(10, clock())
    for _ in range(3):
        answer = lane.call(10)
        assert isinstance(answer, Reservation) and answer.lease is None  # exact, one by one
    lane.settle(answer, 10, 10)  # a success resets the count
    answer = lane.call(10)
    assert isinstance(answer, Reservation) and answer.lease is not None


def test_a_cooldown_ends_the_lease(clock: FakeClock) -> None:
    store = MemoryBudgetStore(clock=clock)
    lane = Lane(store, Budget("d1", rpm=10_000, tpm=1_000_000))
    lane.call(10)
    store.cool_down("d1", clock() + 5)
    answer = lane.call(10)
    assert isinstance(answer, Refusal) and answer.reason == "cooling"


def test_a_hint_that_says_room_is_short_ends_the_lending(clock: FakeClock) -> None:
    store = MemoryBudgetStore(clock=clock)
    lane = Lane(store, Budget("d1", rpm=10_000, tpm=1_000_000))
    first = lane.call(100)
    # The provider has 1000 tokens left: less than twice the lease's 800.
    lane.settle(first, 100, 100, RateHint(remaining_requests=500, remaining_tokens=1000, reset_tokens=30))
    asked = lane.asked
    for _ in range(3):  # no lease while the hint holds
        answer = lane.call(100)
        assert isinstance(answer, Reservation) and answer.lease is None
    assert lane.asked == asked + 3


def test_near_the_limit_every_call_is_reserved_exactly_and_the_limit_holds(clock: FakeClock) -> None:
    budget = Budget("d1", rpm=640, tpm=640 * 20)  # a lease: at most 20 calls, and none past half
    store = MemoryBudgetStore(clock=clock)
    lane = Lane(store, budget)
    answers = [lane.call(10) for _ in range(641)]
    assert not any(isinstance(answer, Refusal) for answer in answers[:640])
    assert isinstance(answers[640], Refusal) and answers[640].reason == "requests"
    assert 320 < lane.asked < 320 + 320 // 2  # leases up to half the limit, then one by one


def test_reservations_that_read_take_no_lease(clock: FakeClock) -> None:
    store = MemoryBudgetStore(clock=clock)
    budget = Budget("d1", rpm=10_000, tpm=1_000_000)
    for _ in range(3):
        answer, view = store.reserve_and_read(budget, 10, [budget])
        assert isinstance(answer, Reservation) and answer.lease is None
    assert view["d1"].requests == 10_000 - 3
    assert isinstance(store.reserve(budget, 10), Reservation)
    assert room(store, budget) == 10_000 - 4


def test_threads_draw_exactly_the_limit_and_close_gives_back_what_leases_held() -> None:
    """A frozen clock: leases never end, so each is used up, or given back by close()."""
    budget = Budget("d1", rpm=4000, tpm=4000 * 30)
    store = MemoryBudgetStore(clock=lambda: 1_700_000_000.5)
    counts = [0] * 8
    barrier = threading.Barrier(8)

    def draw(index: int) -> None:
        lane = Lane(store, budget)
        barrier.wait()
        while not isinstance(lane.call(30), Refusal):
            counts[index] += 1

    threads = [threading.Thread(target=draw, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = sum(counts)
    assert budget.rpm - 8 * (budget.rpm // 32) <= total <= budget.rpm
    store.close()
    assert room(store, budget) == budget.rpm - total  # every lease used up or given back


def test_after_a_fork_the_parents_lease_goes_back_in_the_child(clock: FakeClock) -> None:
    budget = Budget("d1", rpm=640, tpm=1_000_000)
    store = MemoryBudgetStore(clock=clock)
    parent = Lane(store, budget)
    parent.call(10)
    store.after_fork()  # as in a forked child: the lease is the parent's
    assert parent.lease is not None
    assert room(store, budget) == 640 - 1


@pytest.mark.parametrize("seconds", [-1, float("nan"), "0.25"])
def test_lease_seconds_must_be_seconds(seconds: object) -> None:
    with pytest.raises(ConfigurationError, match="lease_seconds"):
        MemoryBudgetStore(lease_seconds=seconds)  # type: ignore[arg-type]


def test_no_leases_with_lease_seconds_0(clock: FakeClock) -> None:
    store = MemoryBudgetStore(clock=clock, lease_seconds=0)
    lane = Lane(store, Budget("d1", rpm=10_000, tpm=1_000_000))
    for _ in range(3):
        lane.call(10)
    assert lane.asked == 3
