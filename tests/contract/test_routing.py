"""The Router over real adapters and quota servers: PTU first, spillover, cooldowns, failover, shared budgets.

One fake clock drives the quota servers, the budget stores and the Retrier, so a minute passes at once.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from clock import FakeClock
from quota_server import QuotaServer, QuotaStats
from redis_server import BINARY, SKIP_REASON, RedisServer
from routing_helpers import routing_events, watch_routing

from llmport.adapters.budget.memory import MemoryBudgetStore
from llmport.adapters.fakes import FakeChat, FakeStreamBreak
from llmport.adapters.llm.openai import OpenAIAdapter
from llmport.domain.budget import Budget, Reservation
from llmport.domain.deadline import Deadline, deadline_scope
from llmport.domain.errors import (
    BadRequestError,
    RateLimitedError,
    RequestTimeoutError,
    ServiceUnavailableError,
    StreamInterruptedError,
)
from llmport.domain.messages import Message
from llmport.domain.models import ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest
from llmport.domain.ports import BudgetStore
from llmport.services.retry import Retrier, RetryPolicy
from llmport.services.routing.router import Deployment, Router

HI = ChatRequest((Message.user("hi"),), max_tokens=10)


@pytest.fixture
def caplog(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    return watch_routing(caplog)


def adapter(server: QuotaServer) -> OpenAIAdapter:
    return OpenAIAdapter(api_key=server.api_key, base_url=f"{server.url}/v1")


def deployment(server: QuotaServer, priority: int = 0, **limits: Any) -> Deployment:
    budget = Budget(server.deployment, **limits) if limits else None
    return Deployment(
        server.deployment, adapter(server), priority=priority, budget=budget, model=server.deployment
    )


def test_ptu_first_then_spill_when_its_budget_is_gone(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    with QuotaServer("ptu", rpm=3, clock=clock) as ptu, QuotaServer("paygo", rpm=10, clock=clock) as paygo:
        router = Router(
            [deployment(paygo, 1, rpm=10), deployment(ptu, 0, rpm=3)], store=MemoryBudgetStore(clock=clock)
        )
        served = []
        for _ in range(5):
            served.append(router.complete(HI).deployment)
            clock.now += 1
        router.close()
    assert served == ["ptu", "ptu", "ptu", "paygo", "paygo"]
    assert ptu.stats == QuotaStats(
        requests=3, accepted=3, accepted_tokens=ptu.stats.accepted_tokens, throttled=0
    )
    assert (paygo.stats.requests, paygo.stats.throttled) == (2, 0)
    seen = routing_events(caplog)
    assert ("skipped", "ptu") in seen and ("spilled", "paygo") in seen
    assert [
        r.routing["reason"] for r in caplog.records if getattr(r, "routing", {}).get("event") == "skipped"
    ] == [
        "requests",
        "requests",
    ]


def test_a_deployment_that_always_429s_is_cooled_and_skipped(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    # tpm=1: every request is over the limit, and the server says so with Retry-After: 60.
    with QuotaServer("hot", tpm=1, clock=clock) as hot, QuotaServer("cold", clock=clock) as cold:
        router = Router([deployment(hot, 0), deployment(cold, 1)], store=MemoryBudgetStore(clock=clock))
        served = [router.complete(HI).deployment for _ in range(4)]
        router.close()
    assert served == ["cold"] * 4
    assert hot.stats.requests == 1  # cooled for its Retry-After: asked once
    assert cold.stats == QuotaStats(4, 4, cold.stats.accepted_tokens, 0)
    seen = routing_events(caplog)
    assert seen[:4] == [("chosen", "hot"), ("cooled", "hot"), ("failed_over", "hot"), ("spilled", "cold")]
    # The next calls go straight to cold (a lane, until hot's cooldown ends): spilled, each of them.
    assert seen.count(("spilled", "cold")) == 4 and seen.count(("skipped", "hot")) == 1


def test_a_region_down_fails_over_with_no_failed_call_then_comes_back_after_its_ejection(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    with QuotaServer("east", clock=clock) as east, QuotaServer("west", clock=clock) as west:
        router = Router(
            [deployment(east, rpm=100), deployment(west, rpm=100)], store=MemoryBudgetStore(clock=clock)
        )
        east.go_down()
        served = [router.complete(HI).deployment for _ in range(6)]  # none raises
        assert served == ["west"] * 6
        seen = routing_events(caplog)
        assert seen.count(("failed_over", "east")) == 3  # eject_after=3 ...
        assert ("ejected", "east") in seen and ("skipped", "east") in seen  # ... then skipped
        east.come_back()
        clock.now += 31  # past eject_for: the half-open probe goes to east and restores it
        assert [router.complete(HI).deployment for _ in range(2)] == ["east", "east"]
        router.close()
    assert east.stats.accepted == 2 and west.stats.throttled == 0


def test_budgets_shared_through_redis_by_two_routers_never_exceed_the_servers_limits(
    clock: FakeClock,
) -> None:
    if BINARY is None:
        pytest.skip(SKIP_REASON)
    from llmport.adapters.budget.redis_store import RedisBudgetStore

    prefix = f"test:{uuid.uuid4().hex}"
    with (
        RedisServer() as redis_server,
        QuotaServer("ptu", rpm=4, clock=clock) as ptu,
        QuotaServer("paygo", rpm=4, clock=clock) as paygo,
    ):
        stores: list[BudgetStore] = [
            RedisBudgetStore(redis_server.url, prefix=prefix, clock=clock) for _ in range(2)
        ]
        routers = [
            Router([deployment(ptu, 0, rpm=4), deployment(paygo, 1, rpm=4)], store=store) for store in stores
        ]
        with ThreadPoolExecutor(8) as pool:
            served = list(pool.map(lambda n: routers[n % 2].complete(HI).deployment, range(8)))
        with pytest.raises(RateLimitedError) as refused:
            routers[0].complete(HI)
        for router in routers:
            router.close()
    assert sorted(served) == ["paygo"] * 4 + ["ptu"] * 4
    assert (ptu.stats.accepted, paygo.stats.accepted, ptu.stats.throttled, paygo.stats.throttled) == (
        4,
        4,
        0,
        0,
    )
    assert refused.value.code == "no_budget" and 0 < (refused.value.retry_after or 0) <= 61
    assert ptu.stats.requests + paygo.stats.requests == 8  # the refused call sent nothing


def test_with_every_deployment_full_the_call_waits_through_the_retrier_instead_of_sending(
    clock: FakeClock,
) -> None:
    with QuotaServer("ptu", rpm=1, clock=clock) as ptu, QuotaServer("paygo", rpm=1, clock=clock) as paygo:
        router = Router(
            [deployment(ptu, 0, rpm=1), deployment(paygo, 1, rpm=1)], store=MemoryBudgetStore(clock=clock)
        )
        assert [router.complete(HI).deployment for _ in range(2)] == ["ptu", "paygo"]
        short = Retrier(RetryPolicy(max_retry_after=120, deadline=30), sleep=clock.sleep, clock=clock)
        with pytest.raises(RateLimitedError):
            short.call(lambda: router.complete(HI))  # the wait would cross the deadline: no sleep
        assert clock.sleeps == []
        retrier = Retrier(RetryPolicy(max_retry_after=120, deadline=300), sleep=clock.sleep, clock=clock)
        assert retrier.call(lambda: router.complete(HI)).deployment == "ptu"
        router.close()
    assert len(clock.sleeps) == 1 and 59 < clock.sleeps[0] <= 61
    assert (ptu.stats.throttled, paygo.stats.throttled, ptu.stats.accepted) == (0, 0, 2)


# -- the failure rules, on fakes --------------------------------------------------------------------


def fakes(*scripts: tuple[object, ...]) -> tuple[Router, list[FakeChat]]:
    chats = [FakeChat(*script) for script in scripts]  # type: ignore[arg-type]
    deployments = [Deployment(f"d{n}", chat) for n, chat in enumerate(chats)]
    return Router(deployments, store=MemoryBudgetStore()), chats


def test_5xx_and_408_move_the_call_but_a_timeout_on_a_sent_request_does_not() -> None:
    router, chats = fakes(
        (ServiceUnavailableError("down", status_code=503),),
        (RequestTimeoutError("408", status_code=408),),
        (),
    )
    assert router.complete(HI).deployment == "d2"
    router, chats = fakes((RequestTimeoutError("timed out"),), ())
    with pytest.raises(RequestTimeoutError):
        router.complete(HI)
    assert len(chats[1].requests) == 0  # it may have done the work: not sent twice
    router, chats = fakes((BadRequestError("bad", status_code=400),), ())
    with pytest.raises(BadRequestError):
        router.complete(HI)
    assert len(chats[1].requests) == 0


def test_a_stream_moves_only_before_its_first_chunk() -> None:
    broken = StreamInterruptedError("broke", retryable=True)
    router, chats = fakes((FakeStreamBreak(after=0, error=broken),), ())
    chunks = list(router.stream(HI))
    assert {chunk.deployment for chunk in chunks} == {"d1"} and "".join(c.text for c in chunks)
    late = StreamInterruptedError("broke", retryable=False)
    router, chats = fakes((FakeStreamBreak(after=1, error=late),), ())
    stream = router.stream(HI)
    assert next(stream).deployment == "d0"
    with pytest.raises(StreamInterruptedError):
        list(stream)
    assert len(chats[1].requests) == 0


def test_embeddings_spread_over_a_group_by_the_budget_left(clock: FakeClock) -> None:
    with QuotaServer("east", rpm=2, clock=clock) as east, QuotaServer("west", rpm=2, clock=clock) as west:
        router = Router(
            [deployment(east, rpm=2), deployment(west, rpm=2)], store=MemoryBudgetStore(clock=clock)
        )
        request = EmbeddingRequest(("a" * 40, "b" * 40))
        replies = [router.embed(request) for _ in range(4)]
        router.close()
    assert [reply.deployment for reply in replies] == ["east", "west", "east", "west"]
    assert all(len(reply.vectors) == 2 for reply in replies)
    assert (east.stats.accepted, west.stats.accepted, east.stats.throttled + west.stats.throttled) == (
        2,
        2,
        0,
    )


class SlowFailure:
    """A ChatPort whose call takes ``seconds`` on the clock and then fails with ``error``."""

    def __init__(self, clock: FakeClock, seconds: float, error: Exception) -> None:
        self.clock, self.seconds, self.error, self.calls = clock, seconds, error, 0

    def complete(self, request: ChatRequest) -> ChatResponse:
        self.calls += 1
        self.clock.now += self.seconds
        raise self.error

    def stream(self, request: ChatRequest) -> Iterator[ChatChunk]:
        raise NotImplementedError


def test_a_call_is_never_moved_past_its_deadline_and_429s_everywhere_say_when_to_come_back(
    clock: FakeClock,
) -> None:
    slow = SlowFailure(clock, 10, ServiceUnavailableError("down", status_code=503))
    spare = FakeChat()
    router = Router(
        [Deployment("slow", slow), Deployment("spare", spare)], store=MemoryBudgetStore(clock=clock)
    )
    with deadline_scope(Deadline(clock.now + 5, clock)), pytest.raises(ServiceUnavailableError):
        router.complete(HI)
    assert (slow.calls, len(spare.requests)) == (1, 0)
    busy = [RateLimitedError("busy", status_code=429, retry_after=seconds) for seconds in (20, 7)]
    router, chats = fakes((busy[0],), (busy[1],))
    with pytest.raises(RateLimitedError) as refused:
        router.complete(HI)
    assert (refused.value.code, refused.value.retry_after) == ("no_budget", 7)
    with pytest.raises(RateLimitedError):
        router.complete(HI)  # both cooling: nothing is sent
    assert [len(chat.requests) for chat in chats] == [1, 1]


class CountingStore(MemoryBudgetStore):
    """A memory store that counts the reservations it is asked for."""

    asked = 0

    def reserve_and_read(self, budget: Budget, tokens: int, budgets: Any) -> Any:
        self.asked += 1
        return super().reserve_and_read(budget, tokens, budgets)


def test_a_lane_takes_its_calls_from_the_room_its_store_lent(clock: FakeClock) -> None:
    with QuotaServer("ptu", clock=clock) as ptu, QuotaServer("paygo", clock=clock) as paygo:
        store = CountingStore(clock=clock)
        router = Router([deployment(ptu, 0, rpm=10_000), deployment(paygo, 1, rpm=10_000)], store=store)
        served = [router.complete(HI).deployment for _ in range(20)]
        router.close()
        store.close()
    assert served == ["ptu"] * 20 and ptu.stats.accepted == 20
    # The first call planned and reserved exactly; the next asked for a lease of 8, then of 16.
    assert store.asked == 3
    assert store.remaining([Budget("ptu", rpm=10_000)])["ptu"].requests == 10_000 - 20


def test_a_deployment_failing_in_its_lane_moves_the_call_and_its_lease_ends(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    with QuotaServer("east", clock=clock) as east, QuotaServer("west", clock=clock) as west:
        store = MemoryBudgetStore(clock=clock)
        router = Router([deployment(east, 0, rpm=1000), deployment(west, 1, rpm=1000)], store=store)
        assert [router.complete(HI).deployment for _ in range(3)] == ["east"] * 3  # a lane, a lease
        east.go_down()
        assert [router.complete(HI).deployment for _ in range(5)] == ["west"] * 5  # none raises
        seen = routing_events(caplog)
        assert seen.count(("failed_over", "east")) == 3 and ("ejected", "east") in seen  # eject_after=3
        east.come_back()
        clock.now += 31  # past eject_for: the probe restores east, and a lane goes to it again
        assert [router.complete(HI).deployment for _ in range(3)] == ["east"] * 3
        router.close()
        store.close()
    assert east.stats.accepted == 6 and west.stats.accepted == 5
    # What the store counts is what was sent and not failed: east's failures gave their tokens back.
    assert store.remaining([Budget("east", rpm=1000)])["east"].requests == 1000 - 9
    assert store.remaining([Budget("west", rpm=1000)])["west"].requests == 1000 - 5


def test_a_lane_ends_when_its_time_is_up_or_the_clock_steps_back(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    # tpm=1: hot answers 429 with Retry-After: 60 and is cooled; the calls spill to cold on a lane.
    with QuotaServer("hot", tpm=1, clock=clock) as hot, QuotaServer("cold", clock=clock) as cold:
        router = Router([deployment(hot, 0), deployment(cold, 1)], store=MemoryBudgetStore(clock=clock))
        for _ in range(3):
            router.complete(HI)
        assert routing_events(caplog).count(("skipped", "hot")) == 1  # one plan, then the lane
        clock.now -= 100  # the wall clock stepped back: the lane is not trusted, the call plans
        router.complete(HI)
        assert routing_events(caplog).count(("skipped", "hot")) == 2
        clock.now += 100 + 1.0  # its VIEW_LIFETIME is up: planned again, from a fresh read
        router.complete(HI)
        assert routing_events(caplog).count(("skipped", "hot")) == 3
        router.close()
    assert hot.stats.requests == 1 and cold.stats.accepted == 5


def test_a_group_of_regions_takes_turns_on_the_room_their_store_lent(clock: FakeClock) -> None:
    with QuotaServer("east", clock=clock) as east, QuotaServer("west", clock=clock) as west:
        store = CountingStore(clock=clock)
        router = Router([deployment(east, 0, rpm=10_000), deployment(west, 0, rpm=10_000)], store=store)
        served = [router.complete(HI).deployment for _ in range(20)]
        router.close()
        store.close()
    assert served == ["east", "west"] * 10  # the budget left picked east first; then they take turns
    # One planned call, then each region's first reservation lent a lease (8 calls) for the next.
    assert store.asked == 4
    for name in ("east", "west"):
        assert store.remaining([Budget(name, rpm=10_000)])[name].requests == 10_000 - 10


def test_a_group_spreads_its_calls_by_the_budget_left_so_regions_of_different_sizes_fill_evenly(
    clock: FakeClock,
) -> None:
    with QuotaServer("east", clock=clock) as east, QuotaServer("west", clock=clock) as west:
        router = Router(
            [deployment(east, 0, rpm=2), deployment(west, 0, rpm=6)], store=MemoryBudgetStore(clock=clock)
        )
        served = [router.complete(HI).deployment for _ in range(8)]
        router.close()
    # Each call goes where the largest fraction of a limit is left (east first on a tie).
    assert served == ["east", "west", "west", "west", "east", "west", "west", "west"]
    assert east.stats.throttled == 0 and west.stats.throttled == 0


def test_a_region_another_router_filled_refuses_the_lane_and_the_call_goes_to_the_other(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    with QuotaServer("east", clock=clock) as east, QuotaServer("west", clock=clock) as west:
        store = MemoryBudgetStore(clock=clock)
        deployments = [deployment(east, 0, rpm=10), deployment(west, 0, rpm=10)]
        mine = Router(deployments, store=store)
        assert [mine.complete(HI).deployment for _ in range(2)] == ["east", "west"]  # a lane over both
        while isinstance(store.reserve(Budget("east", rpm=10), 1), Reservation):
            pass  # another router's calls take what east has left
        assert [mine.complete(HI).deployment for _ in range(3)] == ["west"] * 3  # no error, no 429
        assert ("skipped", "east") in routing_events(caplog)
        mine.close()
    assert east.stats.throttled == 0 and west.stats.throttled == 0


@pytest.mark.parametrize("store_kind", ["memory", "redis"])
def test_threads_over_a_group_on_lent_room_use_each_regions_budget_exactly_and_meet_no_429(
    store_kind: str, clock: FakeClock
) -> None:
    """8 threads, 2 routers (2 processes' worth, one store), two regions of one priority whose
    budgets allow leases: every request of both budgets is used, none more, none refused by a server."""
    if store_kind == "redis" and BINARY is None:
        pytest.skip(SKIP_REASON)
    with contextlib.ExitStack() as stack:
        east = stack.enter_context(QuotaServer("east", rpm=200, clock=clock))
        west = stack.enter_context(QuotaServer("west", rpm=200, clock=clock))
        store: BudgetStore
        if store_kind == "redis":
            from llmport.adapters.budget.redis_store import RedisBudgetStore

            redis = stack.enter_context(RedisServer())
            store = RedisBudgetStore(redis.url, prefix=f"test:{uuid.uuid4().hex}", clock=clock)
        else:
            store = MemoryBudgetStore(clock=clock)
        routers = [
            Router([deployment(east, 0, rpm=200), deployment(west, 0, rpm=200)], store=store)
            for _ in range(2)
        ]

        def call(number: int) -> str:
            try:
                return str(routers[number % 2].complete(HI).deployment)
            except RateLimitedError as error:
                assert error.code == "no_budget"
                return "refused"

        with ThreadPoolExecutor(8) as pool:
            served = list(pool.map(call, range(500)))
        for router in routers:
            router.close()
        store.close()
    assert (served.count("east"), served.count("west"), served.count("refused")) == (200, 200, 100)
    assert (east.stats.accepted, west.stats.accepted) == (200, 200)
    assert east.stats.throttled == 0 and west.stats.throttled == 0
