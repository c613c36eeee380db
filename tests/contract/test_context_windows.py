"""A request too long for its model's context window is refused before any traffic: real client,
real SDK, the loopback server counting what arrives, a counter whose tokens are words."""

from __future__ import annotations

from typing import Any

import pytest
from dependency_injector import providers
from harness import settings_for
from loopback import LoopbackServer
from word_counter import WordCounter, words

from llmport import Client, build_client
from llmport.domain.errors import ContextLengthExceededError
from llmport.testing import Container


def client_for(
    server: LoopbackServer, counter: WordCounter | None, provider: str = "openai", **options: Any
) -> Client:
    model = options.pop("chat_model")
    settings = settings_for(server, provider, **options).replace(chat_model=model)
    container = Container(settings=settings)
    container.token_counter.override(providers.Object(counter))
    return build_client(settings, container)


def test_a_prompt_longer_than_gpt_4s_window_is_refused_naming_both_numbers(server: LoopbackServer) -> None:
    with (
        client_for(server, WordCounter(), chat_model="gpt-4") as client,
        pytest.raises(ContextLengthExceededError) as caught,
    ):
        client.chat(words(9000))
    error = caught.value
    assert server.count == 0
    assert (error.prompt_tokens, error.max_tokens, error.context_window) == (9000, 0, 8192)
    assert "9000 tokens" in error.message and "8192" in error.message and "gpt-4" in error.message
    assert error.status_code is None and error.provider == "openai" and not error.retryable


def test_max_tokens_counts_against_the_window(server: LoopbackServer) -> None:
    with client_for(server, WordCounter(), chat_model="gpt-4") as client:
        with pytest.raises(ContextLengthExceededError) as caught:
            client.chat(words(8000), max_tokens=500)
        assert server.count == 0
        assert "8000 tokens + max_tokens 500" in caught.value.message
        client.chat(words(8000), max_tokens=192)  # 8192 exactly: it fits
        client.chat(words(8000))  # no max_tokens: the reply takes what is left
    assert server.count == 2


def test_a_stream_is_refused_when_it_is_asked_for_not_on_its_first_chunk(server: LoopbackServer) -> None:
    with (
        client_for(server, WordCounter(), chat_model="gpt-4o") as client,
        pytest.raises(ContextLengthExceededError),
    ):
        client.stream(words(128_001))
    assert server.count == 0


def test_the_context_window_setting_wins_over_the_table_and_covers_unknown_models(
    server: LoopbackServer,
) -> None:
    with client_for(server, WordCounter(), chat_model="my-local-model", context_window=100) as client:
        with pytest.raises(ContextLengthExceededError) as caught:
            client.chat(words(101))
        client.chat(words(100))
    assert caught.value.context_window == 100
    assert server.count == 1


def test_an_unknown_model_is_not_checked(server: LoopbackServer) -> None:
    counter = WordCounter()
    with client_for(server, counter, chat_model="my-local-model") as client:
        client.chat(words(20_000))
    assert server.count == 1
    assert counter.chat_calls == 0  # no window, nothing to count for


def test_an_estimate_refuses_only_what_clearly_does_not_fit(server: LoopbackServer) -> None:
    with client_for(server, WordCounter(exact=False), chat_model="llama-3", context_window=1000) as client:
        client.chat(words(1200))  # a quarter less is 900: it may fit, so it goes
        with pytest.raises(ContextLengthExceededError) as caught:
            client.chat(words(1400))  # a quarter less is 1050: it cannot
    assert server.count == 1
    assert "about 1400 tokens" in caught.value.message


@pytest.mark.parametrize("provider", ["azure", "azure_v1"])
def test_azure_finds_the_window_through_deployment_models(server: LoopbackServer, provider: str) -> None:
    with client_for(
        server, WordCounter(), provider, chat_model="prod-chat", deployment_models={"prod-chat": "gpt-4"}
    ) as client:
        with pytest.raises(ContextLengthExceededError) as caught:
            client.chat(words(8193))
        client.chat(words(8192))
    assert caught.value.context_window == 8192
    assert server.count == 1


def test_a_short_prompt_is_settled_without_counting(server: LoopbackServer) -> None:
    counter = WordCounter()
    with client_for(server, counter, chat_model="gpt-4") as client:
        client.chat("a short question", system="be brief")
        assert counter.chat_calls == 0  # its bytes alone bound it far below 8192
        client.chat(words(3000))  # 15,000 bytes could be more than 8192 tokens: counted
        assert counter.chat_calls == 1
    assert server.count == 2


def test_without_a_counter_nothing_is_checked(server: LoopbackServer) -> None:
    with client_for(server, None, chat_model="gpt-4") as client:
        client.chat(words(9000))
    assert server.count == 1


@pytest.mark.parametrize("provider", ["openai", "azure"])
def test_with_the_wired_tiktoken_counter_the_error_names_what_count_tokens_counts(
    server: LoopbackServer, provider: str
) -> None:
    settings = settings_for(server, provider, deployment_models={"gpt-4o-mini": "gpt-4"})
    prompt = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "lorem ipsum " * 5000}]
    with build_client(settings) as client:  # the container's own counter: tiktoken, gpt-4's cl100k_base
        with pytest.raises(ContextLengthExceededError) as caught:
            client.chat(prompt, max_tokens=100)
        counted = client.count_tokens(prompt)
        client.chat("a short question", max_tokens=100)
    assert counted.exact and counted.tokens > 8192
    assert (caught.value.prompt_tokens, caught.value.max_tokens, caught.value.context_window) == (
        counted.tokens,
        100,
        8192,
    )
    assert server.count == 1
