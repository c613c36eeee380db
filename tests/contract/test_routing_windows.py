"""A routed client sends a request too long for one deployment's window to one whose window fits,
refuses one too long for all before any traffic, and reserves the counted prompt plus max_tokens:
the real container, real SDK, one loopback server per deployment, a counter whose tokens are words."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from clock import FakeClock
from dependency_injector import providers
from loopback import LoopbackServer, Reply
from routing_helpers import routing_events, watch_routing
from wire_samples import chat_completion
from word_counter import WordCounter, words

from llmport import Client, build_client
from llmport.domain.errors import ContextLengthExceededError
from llmport.settings.model import Settings
from llmport.testing import Container


@pytest.fixture
def caplog(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    return watch_routing(caplog)


@pytest.fixture
def servers() -> Iterator[tuple[LoopbackServer, LoopbackServer]]:
    with LoopbackServer() as small, LoopbackServer() as large:
        yield small, large


def entry(server: LoopbackServer, name: str, **values: Any) -> dict[str, Any]:
    return {
        "name": name,
        "provider": "openai",
        "base_url": f"{server.url}/v1",
        "api_key": server.api_key,
        **values,
    }


def routed(
    entries: list[dict[str, Any]], counter: WordCounter | None, clock: FakeClock, **values: Any
) -> Client:
    settings = Settings.from_dict(
        {"chat_model": "gpt-4o-mini", "max_retries": 0, "deployments": entries, **values}
    )
    container = Container(settings=settings)
    container.token_counter.override(providers.Object(counter))
    container.wall_clock.override(providers.Object(clock))
    container.clock.override(providers.Object(clock))
    container.sleep.override(providers.Object(clock.sleep))
    return build_client(settings, container)


def skipped_for_window(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        record.routing
        for record in caplog.records
        if hasattr(record, "routing") and record.routing.get("reason") == "context_window"
    ]


def test_a_prompt_too_long_for_the_first_deployment_goes_to_one_whose_window_fits(
    servers: tuple[LoopbackServer, LoopbackServer], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    small, large = servers
    entries = [
        entry(small, "small", priority=0, context_window=1000),
        entry(large, "large", priority=1, context_window=10_000),
    ]
    with routed(entries, WordCounter(), clock) as client:
        assert client.chat(words(10)).deployment == "small"
        reply = client.chat(words(2000), max_tokens=100)
        assert client.chat(words(10)).deployment == "small"  # the long call opened no lane elsewhere
    assert reply.deployment == "large"
    assert (small.count, large.count) == (2, 1)
    (skip,) = skipped_for_window(caplog)
    assert skip["deployment"] == "small" and skip["event"] == "skipped"
    assert (skip["prompt_tokens"], skip["max_tokens"], skip["context_window"]) == (2000, 100, 1000)
    assert ("skipped", "small") in routing_events(caplog)


def test_the_windows_come_from_the_table_by_each_deployments_model(
    servers: tuple[LoopbackServer, LoopbackServer], clock: FakeClock
) -> None:
    small, large = servers
    entries = [
        entry(small, "gpt4", chat_model="gpt-4"),
        entry(large, "gpt4-32k", chat_model="gpt-4-32k", priority=1),
    ]
    with routed(entries, WordCounter(), clock) as client:
        assert client.chat(words(9000)).deployment == "gpt4-32k"
    assert (small.count, large.count) == (0, 1)
    assert large.last.body["model"] == "gpt-4-32k"


def test_a_prompt_too_long_for_every_window_is_refused_before_any_traffic(
    servers: tuple[LoopbackServer, LoopbackServer], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    small, large = servers
    entries = [entry(small, "small", context_window=1000), entry(large, "large", context_window=10_000)]
    with routed(entries, WordCounter(), clock) as client:
        with pytest.raises(ContextLengthExceededError) as caught:
            client.chat(words(9950), max_tokens=100)
        with pytest.raises(ContextLengthExceededError):
            client.stream(words(20_000))
    assert (small.count, large.count) == (0, 0)
    error = caught.value
    assert (error.prompt_tokens, error.max_tokens, error.context_window) == (9950, 100, 10_000)
    assert "9950 tokens + max_tokens 100" in error.message and "10000" in error.message
    assert routing_events(caplog) == []  # refused by the client's check: no deployment was considered


def test_a_stream_moves_to_the_deployment_whose_window_fits(
    servers: tuple[LoopbackServer, LoopbackServer], clock: FakeClock
) -> None:
    small, large = servers
    entries = [
        entry(small, "small", context_window=1000),
        entry(large, "large", priority=1, context_window=10_000),
    ]
    with routed(entries, WordCounter(), clock) as client:
        chunks = list(client.stream(words(5000)))
    assert chunks[-1].deployment == "large"
    assert (small.count, large.count) == (0, 1)


def _tokens_left(client: Client, name: str) -> int | None:
    router = client._root._container.router()  # type: ignore[attr-defined]
    limits = [deployment.limits for deployment in router.deployments]
    return router._store.remaining(limits)[name].tokens


def _no_usage() -> Reply:
    body = chat_completion()
    del body["usage"]
    return Reply(body=body)


def test_tpm_reserves_the_counted_prompt_plus_max_tokens(
    servers: tuple[LoopbackServer, LoopbackServer], clock: FakeClock
) -> None:
    small, large = servers
    small.script(_no_usage())  # no usage reported: the reservation stands as made
    entries = [entry(small, "ptu", tpm=10_000), entry(large, "paygo", priority=1)]
    with routed(entries, WordCounter(), clock) as client:
        client.chat(words(300), max_tokens=200)
        assert _tokens_left(client, "ptu") == 10_000 - (300 + 200)


def test_tpm_settles_on_the_reported_prompt_tokens_and_keeps_max_tokens(
    servers: tuple[LoopbackServer, LoopbackServer], clock: FakeClock
) -> None:
    small, large = servers
    body = chat_completion()
    body["usage"] = {"prompt_tokens": 280, "completion_tokens": 5, "total_tokens": 285}
    small.script(Reply(body=body))
    entries = [entry(small, "ptu", tpm=10_000), entry(large, "paygo", priority=1)]
    with routed(entries, WordCounter(), clock) as client:
        client.chat(words(300), max_tokens=200)
        assert _tokens_left(client, "ptu") == 10_000 - (280 + 200)


def test_without_a_counter_tpm_reserves_the_estimate_and_no_window_is_checked(
    servers: tuple[LoopbackServer, LoopbackServer], clock: FakeClock
) -> None:
    small, large = servers
    small.script(_no_usage(), _no_usage())
    entries = [entry(small, "ptu", tpm=10_000, context_window=1000), entry(large, "paygo", priority=1)]
    with routed(entries, None, clock) as client:
        client.chat(words(300), max_tokens=200)  # 1,499 characters: 3 + 375 estimated, + 200
        assert _tokens_left(client, "ptu") == 10_000 - (378 + 200)
        client.chat(words(2000))  # 2000 words > its window of 1000: not counted, so sent there
    assert small.count == 2


def test_a_call_is_counted_only_when_a_budget_or_a_window_depends_on_it(
    servers: tuple[LoopbackServer, LoopbackServer], clock: FakeClock
) -> None:
    small, large = servers
    counter = WordCounter()
    entries = [entry(small, "a", context_window=100_000), entry(large, "b", priority=1)]
    with routed(entries, counter, clock) as client:
        client.chat(words(50))  # no tpm, and its bytes fit every window: nothing to count for
        assert counter.chat_calls == 0
    entries = [entry(small, "a", tpm=10_000), entry(large, "b", priority=1)]
    with routed(entries, counter, clock) as client:
        client.chat(words(50))  # a tpm limit reserves the counted prompt
        assert counter.chat_calls == 1
