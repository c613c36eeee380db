"""The Router with real parts shared between routers: processes, Redis outages, ejection, 429s, waits.

``test_routing.py`` drives one router with one fake clock. Here:

* several processes (``routing_procs.py``), each with its own Router and RedisBudgetStore on one
  real redis-server, share two deployments' budgets in real time; processes with memory budgets
  each, on the same servers, meet 429s (so the shared run could fail);
* Redis stopped in the middle of a run and started again;
* a region down: ejection shared by two routers, a failed probe, exactly one probe when it is back;
* a deployment that always 429s with ``retry-after-ms``: cooled for that long, in real time;
* a call that no deployment can take waits through the Retrier up to its deadline.

Servers listen on 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import itertools
import json
import logging
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from clock import FakeClock
from loopback import LoopbackServer, RecordedRequest, Reply
from quota_server import QuotaServer, QuotaStats
from redis_server import BINARY, SKIP_REASON, RedisServer
from routing_helpers import routing_events, watch_routing
from wire_samples import azure_error

from llmport.adapters.budget.memory import MemoryBudgetStore
from llmport.adapters.llm.azure import AzureClassicAdapter
from llmport.adapters.llm.openai import OpenAIAdapter
from llmport.domain.budget import Budget
from llmport.domain.errors import ConnectionFailedError, RateLimitedError
from llmport.domain.messages import Message
from llmport.domain.models import ChatChunk, ChatRequest, ChatResponse
from llmport.services.retry import Retrier, RetryEvent, RetryPolicy
from llmport.services.routing.router import VIEW_LIFETIME, Deployment, Router

needs_redis = pytest.mark.skipif(BINARY is None, reason=SKIP_REASON)

WORKER = str(Path(__file__).parent / "routing_procs.py")
API_VERSION = "2024-10-21"
#: Charged 3 + 1 + 13 = 17 tokens by the quota server, estimated 17 by the router, and the
#: loopback's reply reports 17 used: every party counts a call alike.
HI = ChatRequest((Message.user("hi"),), max_tokens=13)
CALL_TOKENS = 17


@pytest.fixture
def caplog(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    return watch_routing(caplog)


def redis_store(
    server: RedisServer, prefix: str, clock: Callable[[], float] = time.time, **options: Any
) -> Any:
    from llmport.adapters.budget.redis_store import RedisBudgetStore

    return RedisBudgetStore(server.url, prefix=prefix, clock=clock, **options)


def shared_stores(kind: str, request: pytest.FixtureRequest, clock: Callable[[], float]) -> list[Any]:
    """Two routers' stores: ``redis`` (two clients, one prefix), ``memory`` (one shared instance),
    ``separate`` (one memory store each: nothing shared, the control case)."""
    if kind == "redis":
        server = request.getfixturevalue("redis_server")
        prefix = f"test:{uuid.uuid4().hex}"
        return [redis_store(server, prefix, clock) for _ in range(2)]
    if kind == "memory":
        store = MemoryBudgetStore(clock=clock)
        return [store, store]
    return [MemoryBudgetStore(clock=clock) for _ in range(2)]


STORES = [pytest.param("redis", marks=needs_redis), "memory"]


def routing_records(caplog: pytest.LogCaptureFixture, event: str) -> list[dict[str, Any]]:
    return [
        record.routing for record in caplog.records if getattr(record, "routing", {}).get("event") == event
    ]


def openai_at(url: str) -> OpenAIAdapter:
    return OpenAIAdapter(api_key="test-key", base_url=f"{url}/v1", timeout=10)


def azure_at(url: str) -> AzureClassicAdapter:
    return AzureClassicAdapter(endpoint=url, api_version=API_VERSION, api_key="test-key", timeout=10)


def busy(milliseconds: int) -> Reply:
    """Azure's 429: ``retry-after`` in whole seconds (1) and the exact ``retry-after-ms``."""
    message = (
        "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 "
        "have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after 1 second."
    )
    headers = {"retry-after": "1", "retry-after-ms": str(milliseconds)}
    return Reply(429, azure_error("429", message), headers=headers)


# -- 1. several processes, one budget ------------------------------------------------------------

PROCESSES, CALLS, THREADS = 3, 17, 3
PTU_RPM, PAYGO_CALLS = 30, 15  # Q1: 30 requests a minute; Q2: 15 calls' tokens a minute
PAYGO_TPM = PAYGO_CALLS * CALL_TOKENS


def run_processes(configs: list[dict[str, Any]], timeout: float = 30) -> list[dict[str, Any]]:
    """Start one worker per config, let them all go at once, return what each printed."""
    running = [
        subprocess.Popen(
            [sys.executable, WORKER, json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for config in configs
    ]
    try:
        deadline = time.monotonic() + timeout
        for process in running:
            assert process.stdout is not None
            ready, _, _ = select.select([process.stdout], [], [], max(deadline - time.monotonic(), 0))
            line = process.stdout.readline() if ready else ""
            assert line.strip() == "ready", (line, process.poll())
        for process in running:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        results = []
        for process in running:
            out, err = process.communicate(timeout=max(deadline - time.monotonic(), 1))
            assert process.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        for process in running:
            if process.poll() is None:
                process.kill()
                process.wait()


def run_shared_budget(
    store: str, redis_url: str = ""
) -> tuple[list[list[list[Any]]], QuotaStats, QuotaStats, bool]:
    """PTU (rpm, OpenAI shape) and pay-as-you-go (tpm, Azure shape) behind PROCESSES routers."""
    with QuotaServer("ptu", rpm=PTU_RPM) as ptu, QuotaServer("paygo", tpm=PAYGO_TPM) as paygo:
        config = {
            "store": store,
            "redis_url": redis_url,
            "prefix": f"test:{uuid.uuid4().hex}",
            "deployments": [
                {"name": "ptu", "shape": "openai", "url": ptu.url, "priority": 0, "rpm": PTU_RPM},
                {"name": "paygo", "shape": "azure", "url": paygo.url, "priority": 1, "tpm": PAYGO_TPM},
            ],
            "calls": CALLS,
            "threads": THREADS,
            "max_tokens": HI.max_tokens,
        }
        results = run_processes([config] * PROCESSES)
        return [r["calls"] for r in results], ptu.stats, paygo.stats, any(r["fell_back"] for r in results)


@needs_redis
def test_processes_sharing_budgets_through_redis_fill_the_ptu_first_and_meet_no_429(
    redis_server: RedisServer,
) -> None:
    per_process, ptu, paygo, fell_back = run_shared_budget("redis", redis_server.url)
    calls = [call for process in per_process for call in process]
    assert not fell_back
    assert len(calls) == PROCESSES * CALLS == 51  # more than Q1 (30) + Q2 (15) can take
    served = [call for call in calls if call[2] is not None]
    refused = [call for call in calls if call[2] is None]
    # Budgets shared: exactly the servers' limits were used, and the servers refused nothing.
    assert ptu == QuotaStats(PTU_RPM, PTU_RPM, PTU_RPM * CALL_TOKENS, 0)
    assert paygo == QuotaStats(PAYGO_CALLS, PAYGO_CALLS, PAYGO_TPM, 0)
    assert sorted(call[2] for call in served) == ["paygo"] * PAYGO_CALLS + ["ptu"] * PTU_RPM
    # Q1 filled before Q2 used: no call started on the PTU after a pay-as-you-go call was served.
    assert max(c[0] for c in served if c[2] == "ptu") < min(c[1] for c in served if c[2] == "paygo")
    # Only the calls beyond Q1 + Q2 were refused, each without a request (no_budget), and only
    # once both had no room: no refusal ended before a served call had started.
    assert len(refused) == len(calls) - PTU_RPM - PAYGO_CALLS
    assert {(c[3], c[4]) for c in refused} == {("RateLimitedError", "no_budget")}
    assert min(c[1] for c in refused) > max(c[0] for c in served)
    # It was shared: more than one process was served by each deployment's budget.
    for name in ("ptu", "paygo"):
        assert sum(any(c[2] == name for c in process) for process in per_process) >= 2, per_process


def test_processes_with_budgets_of_their_own_meet_429s_at_the_servers() -> None:
    """The control: the same run with a memory store per process (each thinks it has Q1 alone)."""
    per_process, ptu, paygo, _ = run_shared_budget("memory")
    calls = [call for process in per_process for call in process]
    assert ptu.accepted == PTU_RPM and paygo.accepted <= PAYGO_CALLS  # the servers hold their limits
    assert ptu.throttled + paygo.throttled > 0  # ... by answering 429: the budgets were not shared
    assert sum(call[2] is not None for call in calls) == ptu.accepted + paygo.accepted


# -- 2. Redis stopped in the middle of a run -------------------------------------------------------


class Hooked:
    """A ChatPort over ``inner`` that runs ``before`` (once) ahead of the next call it sends."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.before: Callable[[], None] | None = None

    def complete(self, request: ChatRequest) -> ChatResponse:
        hook, self.before = self.before, None
        if hook is not None:
            hook()
        return self.inner.complete(request)  # type: ignore[no-any-return]

    def stream(self, request: ChatRequest) -> Iterator[ChatChunk]:
        return self.inner.stream(request)  # type: ignore[no-any-return]

    def close(self) -> None:
        self.inner.close()


@needs_redis
def test_redis_stopped_mid_run_calls_keep_succeeding_on_local_budgets_and_share_again_when_back(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = f"test:{uuid.uuid4().hex}"
    ptu_budget, paygo_budget = Budget("ptu", rpm=12), Budget("paygo", rpm=100)
    with RedisServer() as redis, QuotaServer("ptu", rpm=100) as ptu, QuotaServer("paygo", rpm=100) as paygo:
        store = redis_store(redis, prefix, clock, retry_every=5, timeout=0.5)
        observer = redis_store(redis, prefix, clock)  # another process's view of Redis
        hooked = Hooked(openai_at(ptu.url))
        router = Router(
            [
                Deployment("ptu", hooked, priority=0, budget=ptu_budget, model="ptu"),
                Deployment("paygo", azure_at(paygo.url), priority=1, budget=paygo_budget, model="paygo"),
            ],
            store=store,
            clock=clock,
        )
        served = [router.complete(HI).deployment for _ in range(3)]
        assert observer.remaining([ptu_budget])["ptu"].requests == 12 - 3  # shared: counted on Redis
        hooked.before = redis.stop  # Redis goes away while a call reserved on it is being sent
        served.append(router.complete(HI).deployment)  # settled while Redis is down: no error
        # (its settlement waits for the store's next request, which finds Redis gone)
        with ThreadPoolExecutor(4) as pool:
            local = list(pool.map(lambda _: router.complete(HI).deployment, range(14)))
        assert store.using_fallback
        # Local budgets: this process alone has the PTU's 12 requests, less the one Redis had
        # counted when it last read them (reads go with the count of processes, once a
        # second: the 3 made since are not known); then the calls spill to paygo. No call failed.
        assert sorted(map(str, local)) == ["paygo"] * 3 + ["ptu"] * 11
        assert store.fallback.remaining([ptu_budget])["ptu"].requests == 0
        redis.start()  # back on the same port, empty
        clock.now += 4  # before retry_every: Redis is not asked yet
        served.append(router.complete(HI).deployment)
        assert store.using_fallback
        clock.now += 1.5  # past retry_every: the next call finds Redis and uses it again
        served.append(router.complete(HI).deployment)
        assert not store.using_fallback
        # counted on Redis again, with the 11 this process let through on its own while it was down
        assert observer.remaining([ptu_budget])["ptu"].requests == 12 - 11 - 1
        router.close()
        store.close()
        observer.close()
    assert served == ["ptu"] * 4 + ["paygo", "ptu"]
    assert (ptu.stats.accepted, paygo.stats.accepted) == (4 + 11 + 1, 3 + 1)
    assert ptu.stats.throttled == paygo.stats.throttled == 0
    budget_logs = [r for r in caplog.records if r.name == "llmport.budget"]
    warnings = [r.getMessage() for r in budget_logs if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and "unreachable" in warnings[0], warnings
    assert "lost every budget" in warnings[1]  # it came back empty
    back = [r.getMessage() for r in budget_logs if r.levelno == logging.INFO]
    assert len(back) == 1 and "reachable again" in back[0], back


# -- 3. a region down: ejected for every router, restored by one probe -----------------------------


class Gate:
    """Holds every call sent through it while closed; counts them."""

    def __init__(self) -> None:
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self.entered = 0

    def close(self) -> None:
        self._open.clear()
        with self._lock:
            self.entered = 0

    def open(self) -> None:
        self._open.set()

    def pass_through(self) -> None:
        with self._lock:
            self.entered += 1
        assert self._open.wait(timeout=10), "the gate was never opened"


class Gated(Hooked):
    def __init__(self, inner: Any, gate: Gate) -> None:
        super().__init__(inner)
        self.gate = gate

    def complete(self, request: ChatRequest) -> ChatResponse:
        self.gate.pass_through()
        return self.inner.complete(request)  # type: ignore[no-any-return]


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


@pytest.mark.parametrize("kind", STORES)
def test_a_region_down_is_ejected_for_every_router_and_one_probe_restores_it_when_back(
    kind: str, request: pytest.FixtureRequest, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    gate = Gate()
    east_budget = Budget("east", eject_after=2, eject_for=10, probe_timeout=30)
    with QuotaServer("east") as east, QuotaServer("west") as west:
        routers = [
            Router(
                [
                    Deployment(
                        "east", Gated(openai_at(east.url), gate), priority=0, budget=east_budget, model="east"
                    ),
                    Deployment("west", azure_at(west.url), priority=1, model="west"),
                ],
                store=store,
                clock=clock,
            )
            for store in shared_stores(kind, request, clock)
        ]
        east.go_down()  # connection refused
        served = [routers[n % 2].complete(HI).deployment for n in range(6)]
        assert served == ["west"] * 6  # no caller saw the region down
        seen = routing_events(caplog)
        # The two routers count one deployment's failures together: ejected after eject_after in all.
        assert seen.count(("failed_over", "east")) == 2
        assert seen.count(("ejected", "east")) == 1
        # Each router's next plan skips it once; their later calls go straight to west (a lane).
        assert [r["reason"] for r in routing_records(caplog, "skipped")] == ["ejected"] * 2
        assert gate.entered == 2

        clock.now += 10  # half-open, but east is still down: the probe fails and ejects it at once
        caplog.clear()
        assert [router.complete(HI).deployment for router in routers] == ["west", "west"]
        assert [r["probe"] for r in routing_records(caplog, "chosen") if r["deployment"] == "east"] == [True]
        assert routing_events(caplog).count(("ejected", "east")) == 1
        assert routing_events(caplog).count(("failed_over", "east")) == 1

        east.come_back()
        clock.now += 10  # half-open again, and east is up: 8 concurrent callers, one probe
        caplog.clear()
        gate.close()
        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(routers[n % 2].complete, HI) for n in range(8)]
            wait_for(lambda: sum(future.done() for future in futures) >= 7)
            assert gate.entered == 1 and east.stats.requests == 0  # the probe, held at the gate
            gate.open()
            burst = sorted(str(future.result(timeout=10).deployment) for future in futures)
        assert burst == ["east"] + ["west"] * 7
        assert east.stats.requests == 1
        skipped = {r["reason"] for r in routing_records(caplog, "skipped") if r["deployment"] == "east"}
        assert skipped <= {"probing"} and routing_events(caplog).count(("restored", "east")) == 1
        # Restored for both routers: the PTU-like east takes the calls again, once the router that
        # did not send the probe plans again (its calls went straight to west for VIEW_LIFETIME).
        clock.now += VIEW_LIFETIME
        assert [routers[n % 2].complete(HI).deployment for n in range(4)] == ["east"] * 4
        for router in routers:
            router.close()
    assert east.stats == QuotaStats(5, 5, 5 * CALL_TOKENS, 0)
    assert west.stats.throttled == 0


# -- 4. a deployment that always 429s ---------------------------------------------------------------


@pytest.mark.parametrize("kind", [*STORES, "separate"])
def test_a_deployment_that_always_429s_is_cooled_for_its_retry_after_ms_by_every_router(
    kind: str, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    """Real time: hot answers every request with 429 and ``retry-after-ms: 300`` (``retry-after: 1``)."""
    arrivals: list[float] = []

    def always_busy(index: int, recorded: RecordedRequest) -> Reply:
        arrivals.append(time.monotonic())
        return busy(300)

    with LoopbackServer() as hot, QuotaServer("cold") as cold:
        hot.respond_with(always_busy)
        routers = [
            Router(
                [
                    Deployment("hot", azure_at(hot.url), priority=0, model="hot"),
                    Deployment("cold", openai_at(cold.url), priority=1, model="cold"),
                ],
                store=store,
            )
            for store in shared_stores(kind, request, time.time)
        ]
        served: list[str | None] = []
        end = time.monotonic() + 1.3
        while time.monotonic() < end:
            served.append(routers[len(served) % 2].complete(HI).deployment)
        for router in routers:
            router.close()
    assert set(served) == {"cold"}  # no caller saw a 429
    assert cold.stats.throttled == 0 and cold.stats.accepted == len(served)
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    if kind == "separate":
        # The control: each router cools hot on its own, so the other one sends it the next call.
        assert min(gaps) < 0.29, gaps
        return
    # Cooled for retry-after-ms (0.3 s), shared by both routers: never asked again sooner ...
    assert min(gaps) >= 0.29, gaps
    # ... and asked again once it had cooled (3 to 5 times in 1.3 s: not after retry-after's 1 s).
    assert 3 <= len(arrivals) <= 5, gaps
    cooled = routing_records(caplog, "cooled")
    assert len(cooled) == len(arrivals) and {r["seconds"] for r in cooled} == {0.3}


# -- 5. no deployment can take the call: it waits, through the Retrier, up to its deadline ----------


@pytest.mark.parametrize("kind", STORES)
def test_a_call_no_deployment_can_take_waits_for_the_cooldown_within_its_deadline_and_sends_no_429(
    kind: str, request: pytest.FixtureRequest
) -> None:
    """Real time: another router met a 429 at both deployments (cooled 0.8 s and 0.5 s)."""

    def first_busy(milliseconds: int) -> Callable[[int, RecordedRequest], Reply | None]:
        return lambda index, recorded: busy(milliseconds) if index == 0 else None

    with LoopbackServer() as ptu, LoopbackServer() as paygo:
        ptu.respond_with(first_busy(800))
        paygo.respond_with(first_busy(500))
        routers = [
            Router(
                [
                    Deployment("ptu", azure_at(ptu.url), priority=0, model="ptu"),
                    Deployment("paygo", azure_at(paygo.url), priority=1, model="paygo"),
                ],
                store=store,
            )
            for store in shared_stores(kind, request, time.time)
        ]
        with pytest.raises(RateLimitedError) as first:
            routers[0].complete(HI)  # the one that met the 429s
        assert first.value.code == "no_budget" and 0.4 < (first.value.retry_after or 0) <= 0.5
        assert (ptu.count, paygo.count) == (1, 1)

        def through(deadline: float, retries: list[RetryEvent]) -> Callable[[], ChatResponse]:
            policy = RetryPolicy(max_retries=3, max_retry_after=5, deadline=deadline)
            retrier = Retrier(policy, rand=lambda: 0.0)
            return lambda: retrier.call(lambda: routers[1].complete(HI), on_retry=retries.append)

        retries: list[RetryEvent] = []
        started = time.monotonic()
        with pytest.raises(RateLimitedError):
            through(0.2, retries)()  # waiting ~0.5 s would cross the deadline: fails now
        assert time.monotonic() - started < 0.15 and retries == []
        assert (ptu.count, paygo.count) == (1, 1)  # nothing spent on a 429

        started = time.monotonic()
        reply = through(5, retries)()
        waited = time.monotonic() - started
        for router in routers:
            router.close()
    assert reply.deployment == "paygo"  # the first to cool down; the PTU was still cooling
    assert len(retries) == 1 and 0.3 < retries[0].delay <= 0.5 and 0.3 < waited < 2
    assert (ptu.count, paygo.count) == (1, 2)  # one request for the call, and it was served


@pytest.mark.parametrize("kind", STORES)
def test_a_call_waits_for_budget_another_router_used_up_instead_of_meeting_a_429(
    kind: str, request: pytest.FixtureRequest, clock: FakeClock
) -> None:
    """One fake clock: both deployments' rpm spent by one router, the other's call waits a minute."""
    with QuotaServer("ptu", rpm=2, clock=clock) as ptu, QuotaServer("paygo", rpm=1, clock=clock) as paygo:
        routers = [
            Router(
                [
                    Deployment(
                        "ptu", openai_at(ptu.url), priority=0, budget=Budget("ptu", rpm=2), model="ptu"
                    ),
                    Deployment(
                        "paygo", azure_at(paygo.url), priority=1, budget=Budget("paygo", rpm=1), model="paygo"
                    ),
                ],
                store=store,
                clock=clock,
            )
            for store in shared_stores(kind, request, clock)
        ]
        assert [routers[0].complete(HI).deployment for _ in range(3)] == ["ptu", "ptu", "paygo"]
        retrier = Retrier(RetryPolicy(max_retry_after=120, deadline=300), sleep=clock.sleep, clock=clock)
        assert retrier.call(lambda: routers[1].complete(HI)).deployment == "ptu"
        for router in routers:
            router.close()
    assert len(clock.sleeps) == 1 and 59 < clock.sleeps[0] <= 61
    assert (ptu.stats.throttled, paygo.stats.throttled) == (0, 0)
    assert (ptu.stats.requests, paygo.stats.requests) == (3, 1)


# -- failover never bills twice ----------------------------------------------------------------------


def test_a_connection_lost_after_the_request_was_sent_does_not_move_the_call() -> None:
    """The server read the request, then the connection was reset: it may have done (and billed)
    the work, as after a timeout on a sent request, so by default the call is not moved."""
    with LoopbackServer() as east, LoopbackServer() as west:
        east.respond_with(lambda index, recorded: Reply(reset=True))
        router = Router(
            [
                Deployment("east", openai_at(east.url), model="east"),
                Deployment("west", openai_at(west.url), model="west"),
            ],
            store=MemoryBudgetStore(),
        )
        with pytest.raises(ConnectionFailedError) as lost:
            router.complete(HI)
        router.close()
    assert lost.value.deployment == "east"
    assert (east.count, west.count) == (1, 0)


def test_a_connection_refused_moves_the_call() -> None:
    """The counterpart: nothing was sent to a port that refuses connections, so the call moves."""
    with QuotaServer("east") as east, QuotaServer("west") as west:
        east.go_down()
        router = Router(
            [
                Deployment("east", openai_at(east.url), model="east"),
                Deployment("west", openai_at(west.url), model="west"),
            ],
            store=MemoryBudgetStore(),
        )
        assert router.complete(HI).deployment == "west"
        router.close()
    assert (east.stats.requests, west.stats.requests) == (0, 1)
