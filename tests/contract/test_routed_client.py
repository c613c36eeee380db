"""A client over several deployments, built from settings as users write them (TOML, dict), against
quota-enforcing servers on 127.0.0.1: the public path from a config file to the Router and back.

One fake clock drives the servers, the budget store and the Retrier, so a minute passes at once.
"""

from __future__ import annotations

import os
import pickle
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from clock import FakeClock
from dependency_injector import providers
from loopback import LoopbackServer, Reply
from quota_server import QuotaServer
from redis_server import BINARY, SKIP_REASON, RedisServer
from routing_helpers import routing_events, watch_routing
from wire_samples import azure_error

import llmport
from llmport.adapters.budget.memory import MemoryBudgetStore
from llmport.adapters.llm.openai import OpenAIAdapter
from llmport.container.root import Container, build_client
from llmport.domain.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    RateLimitedError,
)
from llmport.domain.folding import fold_stream
from llmport.domain.messages import Message
from llmport.domain.models import ChatChunk, ChatRequest, ChatResponse
from llmport.services.routing.router import Deployment, Router
from llmport.settings.model import Settings
from llmport.testing import container_of

MODEL = "gpt-4o-mini"


@pytest.fixture
def caplog(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    return watch_routing(caplog)


def openai_entry(server: QuotaServer, name: str, **routing: Any) -> dict[str, Any]:
    return {"name": name, "base_url": f"{server.url}/v1", "api_key": server.api_key, **routing}


def azure_entry(server: QuotaServer, name: str, **routing: Any) -> dict[str, Any]:
    return {
        "name": name,
        "endpoint": server.url,
        "api_key": server.api_key,
        "api_version": "2024-10-21",
        "chat_model": server.deployment,
        **routing,
    }


def build(values: dict[str, Any], clock: FakeClock, *, estimates: bool = False) -> llmport.Client:
    settings = Settings.from_dict(values)
    container = Container(settings=settings)
    if estimates:  # no token counter: the router reserves the estimate a QuotaServer charges
        container.token_counter.override(providers.Object(None))
    container.wall_clock.override(providers.Object(clock))
    container.clock.override(providers.Object(clock))
    container.sleep.override(providers.Object(clock.sleep))
    return build_client(settings, container)


@pytest.fixture
def two_regions(clock: FakeClock) -> Iterator[tuple[QuotaServer, QuotaServer]]:
    with (
        QuotaServer(MODEL, rpm=3, clock=clock) as ptu,
        QuotaServer("paygo-west", rpm=100, clock=clock) as paygo,
    ):
        yield ptu, paygo


def test_a_toml_file_wires_ptu_first_and_spills_to_an_azure_deployment(
    tmp_path: Path,
    two_regions: tuple[QuotaServer, QuotaServer],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ptu, paygo = two_regions
    path = tmp_path / "llmport.toml"
    path.write_text(
        textwrap.dedent(
            f"""
            [clients.chat]
            chat_model = "{MODEL}"
            max_retries = 0

            [[clients.chat.deployments]]
            name = "ptu"
            base_url = "{ptu.url}/v1"
            api_key = "{ptu.api_key}"
            priority = 0
            rpm = 3

            [[clients.chat.deployments]]
            name = "paygo"
            endpoint = "{paygo.url}"
            api_key = "{paygo.api_key}"
            api_version = "2024-10-21"
            chat_model = "paygo-west"
            priority = 1
            rpm = 100
            """
        )
    )
    settings = Settings.from_toml(path, name="chat")
    assert [(d.name, d.settings.provider, d.priority) for d in settings.routes] == [
        ("ptu", "openai", 0),
        ("paygo", "azure", 1),
    ]
    container = Container(settings=settings)
    container.wall_clock.override(providers.Object(clock))
    with build_client(settings, container) as client:
        served = [client.chat("hi", max_tokens=5).deployment for _ in range(5)]
        usage = client.usage
    assert served == ["ptu", "ptu", "ptu", "paygo", "paygo"]
    assert (ptu.stats.requests, ptu.stats.throttled, paygo.stats.requests, paygo.stats.throttled) == (
        3,
        0,
        2,
        0,
    )
    assert set(usage.by_deployment) == {"ptu", "paygo"}
    assert usage.by_deployment["ptu"].calls == 3 and usage.by_deployment["paygo"].calls == 2
    assert ("spilled", "paygo") in routing_events(caplog)


def test_the_providers_rate_headers_stop_a_deployment_before_it_answers_429(
    two_regions: tuple[QuotaServer, QuotaServer], clock: FakeClock
) -> None:
    # No rpm configured for ptu: only its replies' x-ratelimit-remaining-requests say it is full.
    ptu, paygo = two_regions
    values = {
        "chat_model": MODEL,
        "max_retries": 0,
        "deployments": [openai_entry(ptu, "ptu"), azure_entry(paygo, "paygo", priority=1)],
    }
    with build(values, clock) as client:
        served = [client.chat("hi", max_tokens=5).deployment for _ in range(5)]
    assert served == ["ptu", "ptu", "ptu", "paygo", "paygo"]
    assert ptu.stats.throttled == 0  # the third reply said remaining 0: no request spent on a 429


def test_a_429_cools_its_deployment_until_its_retry_hint(clock: FakeClock) -> None:
    # tpm=1: every request is refused; the server's 429 carries x-ratelimit-reset-* and Retry-After.
    with QuotaServer(MODEL, tpm=1, clock=clock) as hot, QuotaServer("cold", clock=clock) as cold:
        values = {
            "chat_model": MODEL,
            "max_retries": 0,
            "deployments": [openai_entry(hot, "hot"), openai_entry(cold, "cold", priority=1)],
        }
        with build(values, clock) as client:
            served = [client.chat("hi", max_tokens=5).deployment for _ in range(3)]
            clock.now += 61
            assert client.chat("hi", max_tokens=5).deployment == "cold"
    assert served == ["cold"] * 3
    assert hot.stats.requests == 2  # once, then once more after its cooldown, not on every call


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "17"}, 17.0),
        ({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "6m0s"}, 360.0),
        (
            {
                "x-ratelimit-remaining-requests": "5",
                "x-ratelimit-reset-requests": "2",
                "x-ratelimit-remaining-tokens": "0",
                "x-ratelimit-reset-tokens": "9",
            },
            9.0,
        ),
        ({"x-ratelimit-reset-requests": "2", "x-ratelimit-reset-tokens": "4"}, 4.0),
        ({"x-ratelimit-reset-tokens": "4", "retry-after": "1"}, 1.0),
        ({}, None),
    ],
)
def test_a_429_without_retry_after_waits_for_the_exhausted_limit_to_reset(
    headers: dict[str, str], expected: float | None
) -> None:
    with LoopbackServer() as server:
        server.script(Reply(429, azure_error("429", "Rate limit is exceeded."), headers=headers))
        client = llmport.from_dict(
            {"base_url": f"{server.url}/v1", "api_key": server.api_key, "chat_model": MODEL, "max_retries": 0}
        )
        with client, pytest.raises(RateLimitedError) as raised:
            client.chat("hi")
    assert raised.value.retry_after == expected


def test_errors_name_the_deployment_that_answered(clock: FakeClock) -> None:
    with QuotaServer(MODEL, api_key="right", clock=clock) as server:
        entry = {**openai_entry(server, "east"), "api_key": "wrong"}
        client = build({"chat_model": MODEL, "deployments": [entry]}, clock)
        with client, pytest.raises(AuthenticationError) as raised:
            client.chat("hi")
    assert raised.value.deployment == "east"
    assert "deployment=east" in str(raised.value)
    again = pickle.loads(pickle.dumps(raised.value))  # noqa: S301 - our own bytes
    assert again.deployment == "east"
    assert "wrong" not in repr(raised.value) and raised.value.__cause__ is None


def test_no_room_anywhere_waits_within_the_deadline_then_says_when(clock: FakeClock) -> None:
    with QuotaServer(MODEL, clock=clock) as server:
        values = {
            "chat_model": MODEL,
            "max_retries": 2,
            "deadline": 5,
            "deployments": [openai_entry(server, "only", rpm=1)],
        }
        with build(values, clock) as client:
            client.chat("hi", max_tokens=5)
            started = clock.now
            with pytest.raises(RateLimitedError) as raised:
                client.chat("hi", max_tokens=5)
    assert raised.value.code == "no_budget" and raised.value.retry_after is not None
    assert clock.now - started <= 5  # the Retrier waited for room, never past the deadline
    assert server.stats.requests == 1  # and spent no request on a 429


def test_streams_and_their_fold_name_the_deployment(
    two_regions: tuple[QuotaServer, QuotaServer], clock: FakeClock
) -> None:
    ptu, paygo = two_regions
    values = {
        "chat_model": MODEL,
        "deployments": [openai_entry(ptu, "ptu", rpm=3), azure_entry(paygo, "paygo", priority=1)],
    }
    with build(values, clock) as client:
        chunks = list(client.stream("hi", max_tokens=5))
        assert {chunk.deployment for chunk in chunks} == {"ptu"}
        assert fold_stream(iter(chunks)).deployment == "ptu"
        for _ in range(2):
            client.chat("hi", max_tokens=5)
        assert fold_stream(client.stream("hi", max_tokens=5)).deployment == "paygo"
        assert client.usage.by_deployment["ptu"].calls == 3


def test_embedding_batches_spread_over_the_deployments_in_parallel(clock: FakeClock) -> None:
    with QuotaServer("embed", clock=clock) as east, QuotaServer("embed", clock=clock) as west:
        values = {
            "embedding_model": "embed",
            "embedding_batch_size": 2,
            "deployments": [
                openai_entry(east, "east", tpm=10_000),
                openai_entry(west, "west", tpm=10_000),
            ],
        }
        with build(values, clock) as client:
            assert client.settings is not None
            reply = client.embed([f"text {i}" for i in range(16)])
            embeddings = container_of(client).embedding_service()
    assert len(reply.vectors) == 16
    assert east.stats.accepted > 0 and west.stats.accepted > 0  # both served batches
    assert east.stats.accepted + west.stats.accepted == 8
    assert set((reply.deployment or "").split(", ")) == {"east", "west"}
    assert embeddings._max_workers == 2  # one batch in flight per deployment serving embeddings


def test_a_deployment_serves_only_the_kinds_it_has_a_model_for(clock: FakeClock) -> None:
    with QuotaServer(MODEL, clock=clock) as chat_server, QuotaServer("embed", clock=clock) as embed_server:
        values = {
            "deployments": [
                {**openai_entry(chat_server, "chat"), "chat_model": MODEL},
                {**openai_entry(embed_server, "vectors"), "embedding_model": "embed"},
            ]
        }
        with build(values, clock) as client:
            assert client.chat("hi").deployment == "chat"
            assert client.embed(["x"]).deployment == "vectors"
    assert (chat_server.stats.requests, embed_server.stats.requests) == (1, 1)


@pytest.mark.parametrize(
    ("deployments", "message"),
    [
        ("east", "must be a list of tables"),
        ([], "the list is empty"),
        ([{"provider": "fake"}], "needs a name"),
        ([{"name": " east", "provider": "fake"}], "needs a name"),
        ([{"name": "a", "provider": "fake"}, {"name": "a", "provider": "fake"}], "'a' is used twice"),
        ([{"name": "a", "provider": "fake", "colour": "red"}], "deployments[a]: unknown setting(s) colour"),
        ([{"name": "a", "provider": "fake", "priority": -1}], "deployments[a].priority: must be a whole"),
        ([{"name": "a", "provider": "fake", "tpm": 0}], "deployments[a].tpm"),
        ([{"name": "a", "provider": "fake", "weight": 0}], "deployments[a].weight: must be a number > 0"),
        ([{"name": "a", "provider": "fake", "rpm": "many"}], "rpm: 'many' is not a whole number"),
        (
            [{"name": "a", "base_url": "http://127.0.0.1:1/v1", "api_key": "k"}],
            "deployments[a]: names no model",
        ),
        (
            [{"name": "a", "endpoint": "https://x.openai.azure.com", "api_key": " k"}],
            "deployments[a]: api_key",
        ),
        ([{"name": "a", "provider": "fake", "deployments": []}], "cannot hold deployments"),
        (["east"], "deployments[0]: must be a table"),
    ],
)
def test_bad_deployments_are_refused_with_the_deployment_and_key_named(
    deployments: Any, message: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_dict({"deployments": deployments})
    assert message in str(raised.value)


def test_a_bad_budget_store_is_refused_without_echoing_its_password() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_dict(
            {
                "budget_store": "http://user:hunter2@127.0.0.1/",
                "deployments": [{"name": "a", "provider": "fake"}],
            }
        )
    assert "budget_store" in str(raised.value) and "hunter2" not in str(raised.value)


def test_deployments_take_the_clients_settings_and_keep_their_secrets_out_of_every_dump() -> None:
    settings = Settings.from_dict(
        {
            "chat_model": "gpt-4o",
            "api_version": "2024-10-21",
            "timeout": 7,
            "budget_store": "redis://:hunter2@127.0.0.1:6379/0",
            "deployments": [
                {"name": "east", "endpoint": "https://east.openai.azure.com", "api_key": "key-east-123"},
                {"name": "west", "endpoint": "https://west.openai.azure.com", "api_key": "key-west-456"},
            ],
        }
    )
    east, west = settings.routes
    assert (east.settings.api_version, east.settings.timeout, west.settings.chat_model) == (
        "2024-10-21",
        7,
        "gpt-4o",
    )
    assert east.settings.source("api_key") == "dict deployments[east]"
    assert settings.provider == "azure" and settings.chat_model == "gpt-4o"
    for dump in (repr(settings), str(settings.redacted()), repr(settings.routes)):
        for secret in ("key-east-123", "key-west-456", "hunter2"):
            assert secret not in dump


def test_the_budget_store_setting_from_the_environment() -> None:
    settings = Settings.from_env(
        {"LLMPORT_BUDGET_STORE": "redis://127.0.0.1:6379/2", "LLMPORT_MOVE_AFTER_TIMEOUT": "true"},
        deployments=[{"name": "a", "provider": "fake"}],
    )
    assert (settings.budget_store, settings.move_after_timeout) == ("redis://127.0.0.1:6379/2", True)


@pytest.mark.skipif(BINARY is None, reason=SKIP_REASON)
def test_a_redis_budget_store_is_shared_by_two_clients_as_by_two_processes(clock: FakeClock) -> None:
    with (
        RedisServer() as redis,
        QuotaServer(MODEL, clock=clock) as ptu,
        QuotaServer("w", clock=clock) as paygo,
    ):
        values = {
            "chat_model": MODEL,
            "budget_store": redis.url,
            "deployments": [openai_entry(ptu, "ptu", rpm=4), openai_entry(paygo, "paygo", priority=1)],
        }
        with build(values, clock) as first, build(values, clock) as second:
            served = [client.chat("hi", max_tokens=5).deployment for client in (first, second) * 3]
    assert served == ["ptu"] * 4 + ["paygo"] * 2  # the second client saw the first's use of ptu
    assert ptu.stats.throttled == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_routed_client_survives_a_fork(
    two_regions: tuple[QuotaServer, QuotaServer], clock: FakeClock
) -> None:
    ptu, paygo = two_regions
    values = {"chat_model": MODEL, "deployments": [openai_entry(ptu, "ptu"), openai_entry(paygo, "paygo")]}
    with build(values, clock) as client:
        client.chat("parent")
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit status
            try:
                reply = client.chat("child")
                os._exit(0 if reply.deployment in ("ptu", "paygo") else 1)
            except BaseException:
                os._exit(2)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert client.chat("parent again").deployment is not None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_never_takes_from_its_parents_lease(clock: FakeClock) -> None:
    """The parent's lane holds room its Redis store lent; a child calling from a copy of it would
    send calls that no process counted. The child reserves in Redis and gets a lease of its own."""
    if BINARY is None:
        pytest.skip(SKIP_REASON)
    from llmport.adapters.budget.redis_store import RedisBudgetStore
    from llmport.domain.budget import Budget
    from llmport.settings import budget_key

    with QuotaServer(MODEL, clock=clock) as server, RedisServer() as redis:
        values = {
            "chat_model": MODEL,
            "budget_store": redis.url,
            "deployments": [
                openai_entry(server, "ptu", rpm=10_000),
                openai_entry(server, "paygo", priority=1),
            ],
        }
        observer = RedisBudgetStore(redis.url, clock=clock, lease_seconds=0)
        with build(values, clock) as client:
            for _ in range(3):
                client.chat("parent")  # a lane to ptu: one call reserved, then a lease of 8
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child reports through its exit status
                try:
                    reply = client.chat("child")
                    os._exit(0 if reply.deployment == "ptu" else 1)
                except BaseException:
                    os._exit(2)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0
            # the store keeps it by what the provider limits: the endpoint and the model
            ptu = Budget("ptu", rpm=10_000, key=budget_key(Settings.from_dict(values).routes[0]))
            used = 10_000 - observer.remaining([ptu])["ptu"].requests
        observer.close()
    # The parent's call and lease (1 + 8), the child's call and its own lease (1 + 8), or the
    # child's lease given back when it closed: never the parent's 9 alone.
    assert used in (18, 10)


class _RevokedOnce:
    """A ChatPort that answers 401 until a new token was asked for, then replies."""

    def __init__(self) -> None:
        self.sent = 0
        self.renewed = False

    def complete(self, request: ChatRequest) -> ChatResponse:
        self.sent += 1
        if not self.renewed:
            raise AuthenticationError("token revoked", status_code=401, provider="azure")
        return ChatResponse(Message.assistant("ok"), model=request.model or "")

    def stream(self, request: ChatRequest) -> Iterator[ChatChunk]:
        raise NotImplementedError


@pytest.mark.parametrize("new_token", [True, False])
def test_a_401_asks_that_deployments_credential_again_and_retries_once(new_token: bool) -> None:
    adapter = _RevokedOnce()
    asked: list[str | None] = []

    def renew(error: AuthenticationError) -> bool:
        asked.append(error.deployment)
        adapter.renewed = new_token
        return new_token

    router = Router(
        [Deployment("east", adapter, reauthenticate=renew)], store=MemoryBudgetStore(), default_cooldown=1
    )
    request = ChatRequest((Message.user("hi"),), model="m")
    if new_token:
        assert router.complete(request).deployment == "east"
    else:
        with pytest.raises(AuthenticationError) as raised:
            router.complete(request)
        assert raised.value.deployment == "east"
    assert adapter.sent == (2 if new_token else 1)
    assert len(asked) == 1


@pytest.mark.skipif(BINARY is None, reason=SKIP_REASON)
def test_a_routed_call_costs_one_round_trip_to_redis_in_steady_state(clock: FakeClock) -> None:
    from llmport.adapters.budget.redis_store import RedisBudgetStore

    class Counting(RedisBudgetStore):
        """Counts requests to Redis: each pipeline is one round trip."""

        round_trips = 0

        def _pipeline(self, commands: Any, now: str) -> list[Any]:
            Counting.round_trips += 1
            return super()._pipeline(commands, now)

    with (
        RedisServer() as redis,
        QuotaServer(MODEL, clock=clock) as ptu,
        QuotaServer("w", clock=clock) as paygo,
    ):
        store = Counting(redis.url, clock=clock)
        router = Router(
            [
                Deployment("ptu", OpenAIAdapter(api_key=ptu.api_key, base_url=f"{ptu.url}/v1"), model=MODEL),
                Deployment(
                    "paygo", OpenAIAdapter(api_key=paygo.api_key, base_url=f"{paygo.url}/v1"), priority=1
                ),
            ],
            store=store,
        )
        request = ChatRequest((Message.user("hi"),), model=MODEL, max_tokens=5)
        router.complete(request)  # the first call reads the budgets, then reserves
        Counting.round_trips = 0
        for _ in range(20):
            assert router.complete(request).deployment == "ptu"
        assert Counting.round_trips == 20
        waiting = dict(store._ledger.settling)  # the last settlement waits for the next request ...
        router.close()
        store.close()  # ... or for close()
        assert len(waiting) == 1 and not store._ledger.settling


def test_settling_keeps_the_max_tokens_the_provider_counts_so_a_busy_deployment_meets_no_429(
    clock: FakeClock,
) -> None:
    # The server counts each call's prompt plus max_tokens (200), as Azure and OpenAI do; the
    # reply reports far fewer tokens. Settling to that usage would hand back room still counted.
    per_call = 3 + 1 + 200
    with QuotaServer(MODEL, tpm=50 * per_call, clock=clock) as server:
        values = {
            "chat_model": MODEL,
            "max_retries": 0,
            "deployments": [openai_entry(server, "only", tpm=50 * per_call)],
        }
        with build(values, clock, estimates=True) as client:

            def call(_: int) -> str:
                try:
                    return str(client.chat("h", max_tokens=200).deployment)
                except RateLimitedError as error:
                    return str(error.code)

            with ThreadPoolExecutor(8) as pool:
                outcomes = list(pool.map(call, range(80)))
    assert outcomes.count("only") == 50 and outcomes.count("no_budget") == 30
    assert server.stats.throttled == 0


def test_a_sent_request_whose_connection_is_lost_is_neither_moved_nor_retried() -> None:
    # The first deployment reads the request, then resets the connection: it may have done (and
    # billed) the work. Moving it, or retrying it (which would land on the second), bills twice.
    with LoopbackServer() as east, LoopbackServer() as west:
        east.respond_with(lambda index, recorded: Reply(reset=True))
        values = {
            "chat_model": MODEL,
            "max_retries": 2,
            "deployments": [
                {"name": "east", "base_url": f"{east.url}/v1", "api_key": east.api_key},
                {"name": "west", "base_url": f"{west.url}/v1", "api_key": west.api_key, "priority": 1},
            ],
        }
        with llmport.from_dict(values) as client, pytest.raises(ConnectionFailedError) as raised:
            client.chat("hi")
        assert (east.count, west.count) == (1, 0)
        assert raised.value.deployment == "east" and raised.value.sent and not raised.value.retryable
        with llmport.from_dict({**values, "move_after_timeout": True}) as client:
            assert client.chat("hi").deployment == "west"  # the user chose to move it


def test_each_deployment_has_its_own_credential_and_a_401_renews_only_that_ones_token() -> None:
    issued: dict[str, list[str]] = {"east": [], "west": []}

    def provider(name: str) -> Any:
        def token() -> str:
            issued[name].append(f"{name}-token-{len(issued[name]) + 1}")
            return issued[name][-1]

        return token

    # east revoked its first token: the provider's 401; west takes whatever west issued.
    with (
        LoopbackServer(accept_token=lambda token: token == "east-token-2") as east,
        LoopbackServer(accept_token=lambda token: token.startswith("west-token-")) as west,
    ):
        values = {
            "chat_model": MODEL,
            "api_version": "2024-10-21",
            "auth": "entra",
            "deployments": [
                {"name": "east", "endpoint": east.url, "credential": provider("east")},
                {"name": "west", "endpoint": west.url, "credential": provider("west"), "priority": 1},
            ],
        }
        with llmport.from_dict(values) as client:
            assert client.chat("hi").deployment == "east"  # after one renewal, on east itself
        sent = [request.headers.get("authorization", "") for request in east.requests]
    assert sent == ["Bearer east-token-1", "Bearer east-token-2"]
    assert issued["east"] == ["east-token-1", "east-token-2"] and west.count == 0
