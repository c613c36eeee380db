"""The budget store's values: limits checked when built, leases."""

from __future__ import annotations

import threading

import pytest

from llmport.domain.budget import Budget, Lease, RateHint, Reservation
from llmport.domain.errors import ConfigurationError


@pytest.mark.parametrize(
    ("options", "field"),
    [({"deployment": " "}, "deployment"), ({"rpm": 0}, "rpm"), ({"tpm": True}, "tpm"),
     ({"eject_after": 0}, "eject_after"), ({"eject_for": 0}, "eject_for"),
     ({"probe_timeout": float("nan")}, "probe_timeout")],
)  # fmt: skip
def test_a_bad_budget_names_its_field(options: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigurationError, match=f"Budget.{field}"):
        Budget(**{"deployment": "d1", **options})  # type: ignore[arg-type]


def lease(calls: int = 4, tokens: int = 400) -> Lease:
    return Lease(Budget("d1", rpm=1000), second=10, until=11.0, calls=calls, tokens=tokens, origin="memory")


def test_a_lease_lends_its_calls_and_tokens_until_it_ends() -> None:
    lent = lease()
    assert lent.take(300, 10.5) and not lent.take(200, 10.5)  # 100 tokens left
    assert lent.take(100, 10.5) and not lent.take(0, 11.0)  # its time is up
    assert (lent.requests, lent.tokens) == (2, 0)


def test_threads_take_exactly_what_a_lease_holds() -> None:
    lent = lease(calls=1000, tokens=1000)
    taken = [0] * 8

    def draw(index: int) -> None:
        while lent.take(1, 10.0):
            taken[index] += 1

    threads = [threading.Thread(target=draw, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(taken) == 1000 and lent.requests == 0


def test_a_lease_keeps_settlements_apart_until_collected_and_none_once_closed() -> None:
    lent = lease()
    assert lent.settle(30) and lent.settle(-50) and lent.settle(-5)
    assert lent.collect() == (30, -55, None)
    assert lent.collect() == (0, 0, None)
    assert lent.close() == (4, 400) and lent.close() is None
    assert not lent.settle(10) and not lent.take(1, 10.0)  # the caller settles with the store instead
    assert lent.reservation(7) == Reservation(lent.budget, 7, 10, False, "memory")


def test_a_short_hint_cuts_a_lease_and_the_newest_of_each_count_is_kept() -> None:
    lent = lease()
    assert lent.settle(0, RateHint(remaining_requests=100))
    assert not lent.cut
    assert lent.settle(0, RateHint(remaining_tokens=500))  # less than twice the 400 tokens held
    assert lent.cut and not lent.take(1, 10.0)
    assert lent.collect()[2] == RateHint(remaining_requests=100, remaining_tokens=500)
