"""ChatService: model defaults, retries through the fakes, re-auth on 401, stream rules, wrapping."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from llmport.adapters.fakes import FakeChat, FakeCredential, FakeStreamBreak
from llmport.domain.conversations import fold_stream
from llmport.domain.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ProviderError,
    QuotaExceededError,
    RateLimitedError,
    ServiceUnavailableError,
    StreamInterruptedError,
)
from llmport.domain.models import ChatChunk, ChatRequest, ChatResponse, Message
from llmport.services.chat import ChatService
from llmport.services.retry import Retrier, RetryPolicy
from llmport.services.token_cache import TokenCache

if TYPE_CHECKING:
    from clock import FakeClock


def request(text: str = "hello there", model: str | None = None) -> ChatRequest:
    return ChatRequest((Message.user(text),), model=model)


def service(
    chat: object, clock: FakeClock, *, model: str | None = "gpt-test", token_cache: TokenCache | None = None
) -> ChatService:
    retrier = Retrier(RetryPolicy(max_retries=2), sleep=clock.sleep, clock=clock, rand=lambda: 0.5)
    return ChatService(chat, provider="fake", model=model, retrier=retrier, token_cache=token_cache)  # type: ignore[arg-type]


def unavailable() -> ServiceUnavailableError:
    return ServiceUnavailableError("down", provider="fake", status_code=503)


class TokenUsingChat:
    """A ChatPort that, like the real adapters, asks the token provider for a token on every request."""

    def __init__(self, inner: FakeChat, cache: TokenCache) -> None:
        self.inner = inner
        self.cache = cache
        self.tokens: list[str] = []

    def complete(self, request: ChatRequest) -> ChatResponse:
        self.tokens.append(self.cache.token())
        return self.inner.complete(request)

    def stream(self, request: ChatRequest) -> Iterator[ChatChunk]:
        self.tokens.append(self.cache.token())
        return self.inner.stream(request)


def test_a_request_without_a_model_gets_the_configured_one(clock: FakeClock) -> None:
    chat = FakeChat()
    response = service(chat, clock).complete(request())
    assert chat.requests[0].model == "gpt-test"
    assert response.model == "gpt-test"
    assert response.text == "fake reply to: hello there"


def test_the_request_model_wins_over_the_configured_one(clock: FakeClock) -> None:
    chat = FakeChat()
    service(chat, clock).complete(request(model="gpt-other"))
    assert chat.requests[0].model == "gpt-other"


def test_no_model_anywhere_is_a_configuration_error_naming_the_setting(clock: FakeClock) -> None:
    chat = FakeChat()
    chat_service = service(chat, clock, model=None)
    with pytest.raises(ConfigurationError, match=r"chat_model.*LLMPORT_CHAT_MODEL"):
        chat_service.complete(request())
    with pytest.raises(ConfigurationError, match="chat_model"):
        chat_service.stream(request())  # at once, before any next()
    assert chat.requests == []


def test_a_transient_error_is_retried_and_the_reply_returned(clock: FakeClock) -> None:
    chat = FakeChat(unavailable(), RateLimitedError("busy", retry_after=1.5), "finally")
    assert service(chat, clock).complete(request()).text == "finally"
    assert len(chat.requests) == 3
    assert clock.sleeps == [0.25, 1.5]


def test_a_non_retryable_error_is_raised_after_one_request(clock: FakeClock) -> None:
    error = BadRequestError("bad", status_code=400)
    chat = FakeChat(error, "never")
    with pytest.raises(BadRequestError) as raised:
        service(chat, clock).complete(request())
    assert raised.value is error
    assert len(chat.requests) == 1
    assert clock.sleeps == []


def test_quota_exceeded_is_never_retried(clock: FakeClock) -> None:
    chat = FakeChat(QuotaExceededError("quota", status_code=429, code="insufficient_quota"), "never")
    with pytest.raises(QuotaExceededError):
        service(chat, clock).complete(request())
    assert len(chat.requests) == 1
    assert chat.pending == 1


def test_an_unexpected_exception_is_wrapped_in_a_provider_error(clock: FakeClock) -> None:
    bug = KeyError("choices")
    chat = FakeChat(bug, "never")
    with pytest.raises(ProviderError, match="unexpected KeyError") as raised:
        service(chat, clock).complete(request())
    assert raised.value.__cause__ is bug
    assert raised.value.retryable is False
    assert raised.value.provider == "fake"
    assert len(chat.requests) == 1


def test_a_401_invalidates_the_cached_token_and_retries_exactly_once(clock: FakeClock) -> None:
    credential = FakeCredential()
    cache = TokenCache(credential)
    chat = TokenUsingChat(FakeChat(AuthenticationError("expired", status_code=401), "welcome back"), cache)
    assert service(chat, clock, token_cache=cache).complete(request()).text == "welcome back"
    assert chat.tokens == ["fake-token-1", "fake-token-2"]
    assert credential.calls == 2
    assert clock.sleeps == []


def test_a_second_401_is_raised_to_the_caller(clock: FakeClock) -> None:
    cache = TokenCache(FakeCredential())
    inner = FakeChat(AuthenticationError("no", status_code=401), AuthenticationError("still no"), "never")
    chat = TokenUsingChat(inner, cache)
    with pytest.raises(AuthenticationError, match="still no"):
        service(chat, clock, token_cache=cache).complete(request())
    assert chat.tokens == ["fake-token-1", "fake-token-2"]
    assert len(inner.requests) == 2


def test_a_401_without_a_token_cache_is_not_retried(clock: FakeClock) -> None:
    chat = FakeChat(AuthenticationError("bad key", status_code=401), "never")
    with pytest.raises(AuthenticationError):
        service(chat, clock).complete(request())
    assert len(chat.requests) == 1


def test_a_stream_sends_nothing_until_the_first_next(clock: FakeClock) -> None:
    chat = FakeChat("one two three")
    chunks = service(chat, clock).stream(request())
    assert chat.requests == []
    assert fold_stream(chunks).text == "one two three"
    assert len(chat.requests) == 1


def test_a_stream_is_retried_while_no_chunk_has_been_received(clock: FakeClock) -> None:
    chat = FakeChat(unavailable(), FakeStreamBreak(after=0, error=unavailable()), "one two three")
    response = fold_stream(service(chat, clock).stream(request()))
    assert response.text == "one two three"
    assert response.finish_reason == "stop"
    assert len(chat.requests) == 3
    assert len(clock.sleeps) == 2


def test_a_stream_is_not_retried_after_the_first_chunk(clock: FakeClock) -> None:
    error = unavailable()
    chat = FakeChat(FakeStreamBreak(after=2, error=error, reply="one two three four"), "never")
    received: list[str] = []
    with pytest.raises(ServiceUnavailableError) as raised:
        for chunk in service(chat, clock).stream(request()):
            received.append(chunk.text)
    assert raised.value is error
    assert received == ["one ", "two "]
    assert len(chat.requests) == 1
    assert clock.sleeps == []


def test_a_foreign_error_mid_stream_becomes_stream_interrupted(clock: FakeClock) -> None:
    reset = ConnectionResetError("peer reset")
    chat = FakeChat(FakeStreamBreak(after=1, error=reset))
    chunks = service(chat, clock).stream(request())
    assert next(chunks).text == "fake "
    with pytest.raises(StreamInterruptedError) as raised:
        next(chunks)
    assert raised.value.__cause__ is reset


def test_a_foreign_error_before_the_first_chunk_is_a_provider_error_and_not_retried(clock: FakeClock) -> None:
    bug = TypeError("bad chunk")
    chat = FakeChat(FakeStreamBreak(after=0, error=bug), "never")
    with pytest.raises(ProviderError) as raised:
        list(service(chat, clock).stream(request()))
    assert raised.value.__cause__ is bug
    assert len(chat.requests) == 1


def test_a_stream_401_refreshes_the_token_and_retries_once(clock: FakeClock) -> None:
    cache = TokenCache(FakeCredential())
    chat = TokenUsingChat(FakeChat(AuthenticationError("expired", status_code=401), "hi again"), cache)
    assert fold_stream(service(chat, clock, token_cache=cache).stream(request())).text == "hi again"
    assert chat.tokens == ["fake-token-1", "fake-token-2"]


def test_close_closes_the_adapter(clock: FakeClock) -> None:
    chat = FakeChat()
    chat_service = service(chat, clock)
    chat_service.close()
    chat_service.close()
    assert chat.closed is True
