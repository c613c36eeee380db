"""A chat option is declared once (``chat_call``) and taken alike by chat and stream, to its request.

So that an option cannot be half-added: every ChatRequest field is a keyword of ``Client.chat``,
every keyword has a sample here that must reach its field through chat and through stream, and is
documented in ``Client.chat``'s docstring; the call options (retries, timeout, deadline, headers)
are taken by chat, stream, embed and with_options alike and reach the call.
"""

from __future__ import annotations

import dataclasses
import inspect
import pydoc
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from cache_fakes import DictCacheStore
from dependency_injector import providers

import llmport
from llmport import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    Message,
    Reasoning,
    ResponseFormat,
    ServiceUnavailableError,
    Settings,
    ToolSpec,
)
from llmport.domain.call_options import CallOptions, current_call_options
from llmport.domain.deadline import current_deadline
from llmport.services.chat_request import chat_call
from llmport.testing import Container, FakeChat, FakeEmbeddings, fake_client

if TYPE_CHECKING:
    from conftest import FakeClock

TOOL = ToolSpec(name="lookup")
CALL_OPTIONS = frozenset(field.name for field in dataclasses.fields(CallOptions))

# keyword: (the keywords a call is given, the ChatRequest field it reaches, what that field holds)
SAMPLES: dict[str, tuple[dict[str, Any], str, object]] = {
    "system": ({"system": "Be brief."}, "messages", (Message.system("Be brief."), Message.user("hi"))),
    "model": ({"model": "gpt-x"}, "model", "gpt-x"),
    "temperature": ({"temperature": 0.3}, "temperature", 0.3),
    "top_p": ({"top_p": 0.5}, "top_p", 0.5),
    "max_tokens": ({"max_tokens": 16}, "max_tokens", 16),
    "stop": ({"stop": ["END"]}, "stop", ("END",)),
    "seed": ({"seed": 7}, "seed", 7),
    "tools": ({"tools": [TOOL]}, "tools", (TOOL,)),
    "tool_choice": ({"tools": [TOOL], "tool_choice": "lookup"}, "tool_choice", "lookup"),
    "response_format": ({"response_format": ResponseFormat.json()}, "response_format", ResponseFormat.json()),
    "user": ({"user": "u-1"}, "user", "u-1"),
    "extra": ({"extra": {"service_tier": "flex"}}, "extra", {"service_tier": "flex"}),
    "api": ({"api": "responses"}, "api", "responses"),
    "n": ({"n": 2}, "n", 2),
    "logprobs": ({"logprobs": True}, "logprobs", True),
    "top_logprobs": ({"logprobs": True, "top_logprobs": 3}, "top_logprobs", 3),
    "parallel_tool_calls": (
        {"tools": [TOOL], "parallel_tool_calls": False},
        "parallel_tool_calls",
        False,
    ),
    "reasoning": ({"reasoning": Reasoning(effort="low")}, "reasoning", Reasoning(effort="low")),
    "instructions": ({"instructions": "Be terse."}, "instructions", "Be terse."),
    "previous_response_id": ({"previous_response_id": "resp_1"}, "previous_response_id", "resp_1"),
    "store": ({"store": True}, "store", True),
    "prompt_cache_key": ({"prompt_cache_key": "faq-v2"}, "prompt_cache_key", "faq-v2"),
}


def _keywords(function: Any) -> list[str]:
    return [p.name for p in inspect.signature(function).parameters.values() if p.kind is p.KEYWORD_ONLY]


def test_chat_and_stream_show_every_keyword_of_chat_call_by_name_type_and_default() -> None:
    declared = list(inspect.signature(chat_call).parameters.values())
    assert [p.name for p in declared[:1]] == ["prompt"] and len(declared) > 20
    client = fake_client()
    for method in (llmport.Client.chat, llmport.Client.stream):
        assert list(inspect.signature(method).parameters.values())[1:] == declared
        assert list(inspect.signature(getattr(client, method.__name__)).parameters.values()) == declared
        shown = pydoc.render_doc(method)
        for parameter in declared[1:]:
            assert f"{parameter.name}: {parameter.annotation!r} = {parameter.default!r}" in shown
    assert inspect.signature(client.chat).return_annotation == "ChatResponse"
    assert inspect.signature(client.stream).return_annotation == "Iterator[ChatChunk]"


def test_every_request_field_is_a_chat_keyword_and_every_chat_keyword_has_a_sample_and_a_doc() -> None:
    keywords = set(_keywords(llmport.Client.chat))
    fields = {field.name for field in dataclasses.fields(ChatRequest)} - {"messages"}
    assert fields <= keywords, f"ChatRequest fields Client.chat does not take: {fields - keywords}"
    assert set(SAMPLES) == keywords - CALL_OPTIONS
    documented = llmport.Client.chat.__doc__ or ""
    assert [name for name in keywords if name not in documented] == []


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_chat_option_reaches_the_request_through_chat_and_stream_alike(name: str) -> None:
    given, field, expected = SAMPLES[name]
    fake = FakeChat()
    with fake_client(fake, max_retries=0) as client:
        client.chat("hi", **given)
        chunks = list(client.stream("hi", **given))
    assert chunks[-1].finish_reason == "stop"
    assert [getattr(request, field) for request in fake.requests] == [expected, expected]


def test_a_misspelt_keyword_is_a_type_error_that_names_the_method() -> None:
    with fake_client() as client:
        with pytest.raises(
            TypeError, match=r"^Client\.chat\(\) got an unexpected keyword argument 'temprature'$"
        ):
            client.chat("hi", temprature=0.2)
        with pytest.raises(
            TypeError, match=r"^Client\.stream\(\) got an unexpected keyword argument 'opts'$"
        ):
            client.stream("hi", opts={})
        with pytest.raises(TypeError, match="positional"):
            client.chat("hi", "Be brief.")
        assert client.chat(prompt="hi").text == "fake reply to: hi"


# -- the call options: chat, stream, embed and with_options take them alike, and the call gets them ----


class _Recording(FakeChat):
    """A FakeChat that also records the call options and the deadline each request ran under."""

    def __init__(self, *script: Any) -> None:
        super().__init__(*script)
        self.seen: list[tuple[CallOptions | None, float | None]] = []

    def _note(self) -> None:
        deadline = current_deadline()
        self.seen.append((current_call_options(), None if deadline is None else deadline.remaining()))

    def complete(self, request: ChatRequest) -> ChatResponse:
        self._note()
        return super().complete(request)

    def stream(self, request: ChatRequest) -> Iterator[ChatChunk]:
        self._note()
        return super().stream(request)


class _RecordingEmbeddings(FakeEmbeddings):
    def __init__(self, *script: Any) -> None:
        super().__init__(*script)
        self.seen: list[tuple[CallOptions | None, float | None]] = []

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        deadline = current_deadline()
        self.seen.append((current_call_options(), None if deadline is None else deadline.remaining()))
        return super().embed(request)


def test_chat_stream_embed_and_with_options_take_the_same_call_options() -> None:
    assert set(_keywords(llmport.Client.chat)) & CALL_OPTIONS == CALL_OPTIONS
    assert set(_keywords(llmport.Client.stream)) & CALL_OPTIONS == CALL_OPTIONS
    assert set(_keywords(llmport.Client.embed)) & CALL_OPTIONS == CALL_OPTIONS
    assert set(_keywords(llmport.Client.with_options)) == CALL_OPTIONS


def _calls(client: llmport.Client, entry: str, options: dict[str, Any]) -> None:
    if entry == "chat":
        client.chat("hi", **options)
    elif entry == "stream":
        list(client.stream("hi", **options))
    elif entry == "embed":
        client.embed("hi", **options)
    else:
        client.with_options(**options).chat("hi")


# option: (the value given, what the port sees: the call's options or its deadline's seconds left)
CALL_SAMPLES: dict[str, tuple[object, Any]] = {
    "timeout": (2.5, lambda options, left: options.timeout == 2.5),
    "headers": ({"x-job": "nightly"}, lambda options, left: dict(options.headers) == {"x-job": "nightly"}),
    "deadline": (4321.0, lambda options, left: left == 4321.0),
    # max_retries: checked below by the attempts it allows
}
# The reply cache's options: a value that makes an identical second call go to the provider.
CACHE_SAMPLES: dict[str, object] = {"cache": False, "cache_namespace": "tenant-b"}


@pytest.mark.parametrize("entry", ["chat", "stream", "embed", "with_options"])
@pytest.mark.parametrize("option", sorted(CALL_OPTIONS))
def test_each_call_option_reaches_the_call_through_every_entry(
    option: str, entry: str, clock: FakeClock
) -> None:
    failures = [ServiceUnavailableError("busy", provider="fake") for _ in range(3)]
    script = failures if option == "max_retries" else []
    chat = _Recording(*script)
    embeddings = _RecordingEmbeddings(*script)
    settings = Settings(provider="fake", max_retries=0, deadline=60.0)
    container = Container(settings=settings)
    container.chat_adapter.override(providers.Object(chat))
    container.embedding_adapter.override(providers.Object(embeddings))
    container.sleep.override(providers.Object(clock.sleep))
    container.clock.override(providers.Object(clock))
    port = embeddings if entry == "embed" else chat
    if option in CACHE_SAMPLES:
        # The reply cache's options change no request: what they change is whether one is sent.
        container.cache_store.override(providers.Object(DictCacheStore()))
        with llmport.build_client(settings, container) as client:
            _calls(client, entry, {})
            _calls(client, entry, {option: CACHE_SAMPLES[option]})
            _calls(client, entry, {})
        assert len(port.seen) == 2  # the second call skipped the cache; the third was a hit
        return
    with llmport.build_client(settings, container) as client:
        if option == "max_retries":
            with pytest.raises(ServiceUnavailableError):
                _calls(client, entry, {})  # the client's max_retries=0: the first failure is final
            _calls(client, entry, {"max_retries": 2})  # two more failures, then the third attempt answers
            assert len(port.seen) == 4
            return
        value, reached = CALL_SAMPLES[option]
        _calls(client, entry, {option: value})
    [(options, left)] = port.seen
    assert reached(options, left), (options, left)
