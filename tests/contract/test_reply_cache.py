"""The reply cache (issue 21) through the real container, openai SDK and HTTP: a hit sends nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cache_fakes import DictCacheStore, RaisingCacheStore
from clock import FakeClock
from dependency_injector import providers
from loopback import LoopbackServer, Reply
from wire_samples import openai_error

from llmport import Client, RateLimitedError, Settings, build_client, fold_stream
from llmport.testing import Container


def _client(server: LoopbackServer, clock: FakeClock, store: Any, **values: Any) -> Client:
    settings = Settings(
        provider="openai",
        base_url=f"{server.url}/v1",
        api_key=server.api_key,
        chat_model="gpt-4o-mini",
        embedding_model="emb",
        max_retries=0,
        **values,
    )
    container = Container(settings=settings)
    container.cache_store.override(providers.Object(store))
    container.sleep.override(providers.Object(clock.sleep))
    container.clock.override(providers.Object(clock))
    return build_client(settings, container)


@pytest.fixture
def store() -> DictCacheStore:
    return DictCacheStore()


@pytest.fixture
def client(server: LoopbackServer, clock: FakeClock, store: DictCacheStore) -> Iterator[Client]:
    with _client(server, clock, store) as made:
        yield made


def _ops(server: LoopbackServer) -> list[str]:
    return [request.op for request in server.requests]


def test_a_repeated_chat_is_one_http_request(server: LoopbackServer, client: Client) -> None:
    first = client.chat("What is 2+2?", temperature=0)
    second = client.chat("What is 2+2?", temperature=0)
    assert _ops(server) == ["chat/completions"]
    assert second.cache_hit and not first.cache_hit
    assert (second.text, second.usage, second.id) == (first.text, first.usage, first.id)
    client.chat("What is 2+2?", temperature=0.5)  # another temperature: another reply
    assert len(server.requests) == 2


def test_a_repeated_stream_is_replayed_without_a_request(server: LoopbackServer, client: Client) -> None:
    sent = list(client.stream("Count to three"))
    replayed = list(client.stream("Count to three"))
    assert len(server.requests) == 1
    assert [c.text for c in replayed] == [c.text for c in sent]
    assert fold_stream(replayed).cache_hit and fold_stream(replayed).text == fold_stream(sent).text
    assert replayed[-1].usage == sent[-1].usage and replayed[-1].finish_reason == sent[-1].finish_reason


def test_embeddings_send_only_the_inputs_missing_from_the_cache(
    server: LoopbackServer, client: Client
) -> None:
    texts = [f"document {i}" for i in range(1000)]
    first = client.embed(texts[:900])
    response = client.embed(texts)
    assert response.cache_hits == 900 and len(response.vectors) == 1000
    assert server.requests[-1].body["input"] == texts[900:]
    # The loopback numbers vectors by their place in a request: the first 900 are the first call's.
    assert [list(v) for v in response.vectors[:900]] == [list(v) for v in first.vectors]
    assert [list(v) for v in response.vectors[900:]] == [list(v) for v in first.vectors[:100]]
    again = client.embed(texts)
    assert again.cache_hits == 1000 and len(server.requests) == 2
    assert [list(v) for v in again.vectors] == [list(v) for v in response.vectors]
    assert client.usage.cache_hits == 1900


def test_an_error_is_not_cached(server: LoopbackServer, client: Client, store: DictCacheStore) -> None:
    server.script(Reply(429, openai_error("Rate limit reached", code="rate_limit_exceeded")))
    with pytest.raises(RateLimitedError):
        client.chat("hello")
    assert not store.values
    assert client.chat("hello").cache_hit is False
    assert len(server.requests) == 2


def test_a_failing_store_never_fails_a_call(server: LoopbackServer, clock: FakeClock) -> None:
    with _client(server, clock, RaisingCacheStore()) as client:
        assert client.chat("hello").text
        assert client.chat("hello").cache_hit is False
        assert len(list(client.stream("hello"))) > 1
        assert len(client.embed(["a", "b"]).vectors) == 2
    assert len(server.requests) == 4


def test_usage_counts_hits_and_the_cost_they_saved(server: LoopbackServer, clock: FakeClock) -> None:
    prices = {"gpt-4o-mini": {"input": 1.0, "output": 2.0}}
    with _client(server, clock, DictCacheStore(), prices=prices) as client:
        paid = client.chat("hello")
        client.chat("hello")
        list(client.stream("hello"))
        list(client.stream("hello"))
        usage = client.usage
    assert usage.calls == 2 and usage.cache_hits == 2
    assert paid.cost is not None and usage.cache_saved_cost is not None
    assert usage.cache_saved_cost > 0 and usage.cost is not None
    assert usage.as_dict()["cache_hits"] == 2
