"""Embedding inputs held to the model's per-input limit before anything is sent, cut at a token
boundary on request, and batched by counted tokens: real client, real SDK, the loopback server,
a counter whose tokens are words."""

from __future__ import annotations

from typing import Any

import pytest
from dependency_injector import providers
from harness import settings_for
from loopback import LoopbackServer
from word_counter import WordCounter, words

from llmport import Client, build_client
from llmport.domain.errors import ValidationError
from llmport.testing import Container


def client_for(
    server: LoopbackServer, counter: WordCounter | None, provider: str = "openai", **options: Any
) -> Client:
    model = options.pop("embedding_model", "text-embedding-3-small")
    settings = settings_for(server, provider, **options).replace(embedding_model=model)
    container = Container(settings=settings)
    container.token_counter.override(providers.Object(counter))
    return build_client(settings, container)


def sent_inputs(server: LoopbackServer) -> list[list[str]]:
    return [request.body["input"] for request in server.requests]


def test_an_input_over_8191_tokens_is_refused_naming_its_index(server: LoopbackServer) -> None:
    with client_for(server, WordCounter()) as client, pytest.raises(ValidationError) as caught:
        client.embed(["short", "fine", words(8192), words(9000)])
    assert server.count == 0
    message = caught.value.message
    assert "embedding input 2 (and 1 more) is 8192 tokens" in message and "8191" in message
    assert "truncate=True" in message


def test_truncate_cuts_an_input_at_the_limit_and_sends_it(server: LoopbackServer) -> None:
    with client_for(server, WordCounter()) as client:
        reply = client.embed(["short", words(9000)], truncate=True)
        client.embed(words(8191))  # at the limit: sent as it is
    assert len(reply.vectors) == 2
    (first,), (second,) = sent_inputs(server)[0][1:], sent_inputs(server)[1]
    assert len(first.split()) == 8191 and len(second.split()) == 8191
    assert sent_inputs(server)[0][0] == "short"


@pytest.mark.parametrize("provider", ["azure", "azure_v1"])
def test_azure_finds_the_limit_through_deployment_models(server: LoopbackServer, provider: str) -> None:
    with (
        client_for(
            server,
            WordCounter(),
            provider,
            embedding_model="prod-embed",
            deployment_models={"prod-embed": "text-embedding-3-large"},
        ) as client,
        pytest.raises(ValidationError, match="embedding input 0 is 8192 tokens"),
    ):
        client.embed([words(8192)])
    assert server.count == 0


def test_an_unknown_embedding_model_is_not_held_to_a_limit(server: LoopbackServer) -> None:
    with client_for(server, WordCounter(), embedding_model="my-embedder") as client:
        client.embed([words(9000)])
    assert server.count == 1


def test_batches_are_cut_by_counted_tokens(server: LoopbackServer) -> None:
    texts = [words(400, "w") for _ in range(5)]  # 799 bytes each: estimated 267 tokens, counted 400
    with client_for(server, WordCounter(), embedding_token_budget=1000) as client:
        reply = client.embed(texts)
    assert len(reply.vectors) == 5
    assert [len(batch) for batch in sent_inputs(server)] == [2, 2, 1]  # 800, 800, 400 of 1000


def test_without_a_counter_batches_are_cut_by_the_estimate(server: LoopbackServer) -> None:
    texts = [words(400, "w") for _ in range(5)]
    with client_for(server, None, embedding_token_budget=1000) as client:
        client.embed(texts)
    assert [len(batch) for batch in sent_inputs(server)] == [3, 2]  # 267 estimated each


def test_inputs_whose_bytes_fit_are_not_counted(server: LoopbackServer) -> None:
    counter = WordCounter()
    with client_for(server, counter) as client:
        client.embed(["a short text", "another one"] * 100)
    assert counter.text_calls == 0
    assert server.count == 1


def test_a_cut_input_is_cached_apart_from_the_input_itself(server: LoopbackServer) -> None:
    with client_for(server, WordCounter(), cache="memory") as client:
        client.embed([words(9000)], truncate=True)
        assert client.embed([words(9000)], truncate=True).cache_hits == 1
        with pytest.raises(ValidationError, match="embedding input 0 is 9000 tokens"):
            client.embed([words(9000)])  # not the cut one's vector: refused, as without a cache
    assert server.count == 1
