"""Logging: one event per call and per retry, the documented keys, and never a secret or content."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest
import structlog
from structlog.testing import capture_logs

from llmport.adapters.fakes import FakeChat, FakeCredential, FakeEmbeddings
from llmport.domain.errors import BadRequestError, RateLimitedError, ServiceUnavailableError
from llmport.domain.models import AccessToken, ChatRequest, EmbeddingRequest, Message
from llmport.services.chat import ChatService
from llmport.services.embeddings import EmbeddingService
from llmport.services.logging import get_logger
from llmport.services.retry import Retrier, RetryPolicy
from llmport.services.token_cache import TokenCache

if TYPE_CHECKING:
    from clock import FakeClock

SECRET = "eyJ0eXAi-secret-token"
PROMPT = "my private medical question"
CALL_KEYS = {
    "provider",
    "operation",
    "model",
    "attempt",
    "status",
    "latency_ms",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "request_id",
}


@pytest.fixture
def info(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="llmport")
    return caplog


def chat_service(chat: FakeChat, clock: FakeClock, *, log_content: bool = False) -> ChatService:
    cache = TokenCache(FakeCredential(AccessToken(SECRET, 9e12)))
    cache.token()
    retrier = Retrier(RetryPolicy(), sleep=clock.sleep, clock=clock, rand=lambda: 0.5)
    return ChatService(
        chat, provider="fake", model="gpt-test", retrier=retrier, token_cache=cache, log_content=log_content
    )


def prompt() -> ChatRequest:
    return ChatRequest((Message.system("be brief"), Message.user(PROMPT)))


def only(entries: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [entry for entry in entries if entry["event"] == event]


def test_a_successful_call_logs_one_info_event_with_the_documented_keys(
    info: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    with capture_logs() as entries:
        chat_service(FakeChat(), clock).complete(prompt())
    assert len(entries) == 1
    entry = entries[0]
    assert entry["event"] == "llmport.call"
    assert entry["log_level"] == "info"
    assert set(entry) >= CALL_KEYS
    assert (entry["provider"], entry["operation"], entry["model"], entry["attempt"]) == (
        "fake",
        "chat",
        "gpt-test",
        1,
    )
    assert (entry["status"], entry["request_id"]) == ("ok", "fake-request-1")
    assert (entry["prompt_tokens"], entry["completion_tokens"], entry["total_tokens"]) == (6, 7, 13)
    assert entry["latency_ms"] >= 0


def test_each_retry_logs_one_warning_and_the_call_counts_the_attempts(
    info: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    chat = FakeChat(
        ServiceUnavailableError("down", status_code=503, request_id="req-a"),
        RateLimitedError("busy", status_code=429, code="rate_limit_exceeded", retry_after=2.0),
        "ok",
    )
    with capture_logs() as entries:
        chat_service(chat, clock).complete(prompt())
    retries = only(entries, "llmport.retry")
    assert [(entry["log_level"], entry["attempt"], entry["error"]) for entry in retries] == [
        ("warning", 1, "ServiceUnavailableError"),
        ("warning", 2, "RateLimitedError"),
    ]
    assert (retries[0]["request_id"], retries[0]["status_code"], retries[0]["delay_s"]) == (
        "req-a",
        503,
        0.25,
    )
    assert (retries[1]["code"], retries[1]["delay_s"]) == ("rate_limit_exceeded", 2.0)
    calls = only(entries, "llmport.call")
    assert [(entry["attempt"], entry["status"]) for entry in calls] == [(3, "ok")]


def test_a_failed_call_logs_one_info_event_with_the_error_class_and_code(
    info: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    error = BadRequestError("bad", status_code=400, code="invalid_value", request_id="req-9")
    with capture_logs() as entries, pytest.raises(BadRequestError):
        chat_service(FakeChat(error), clock).complete(prompt())
    assert len(entries) == 1
    entry = entries[0]
    assert (entry["log_level"], entry["status"], entry["error"], entry["code"], entry["request_id"]) == (
        "info",
        "error",
        "BadRequestError",
        "invalid_value",
        "req-9",
    )


def test_events_never_hold_the_token_or_the_content(info: pytest.LogCaptureFixture, clock: FakeClock) -> None:
    chat = FakeChat(ServiceUnavailableError("down"), f"the answer to {PROMPT}")
    with capture_logs() as entries:
        chat_service(chat, clock).complete(prompt())
    assert len(entries) == 2
    assert SECRET not in repr(entries)
    assert "private" not in repr(entries)


def test_stdlib_records_go_to_llmport_loggers_without_secrets_or_content(
    info: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    chat_service(FakeChat(ServiceUnavailableError("down"), PROMPT), clock).complete(prompt())
    records = [record for record in info.records if record.name.startswith("llmport")]
    assert [(record.name, record.levelname) for record in records] == [
        ("llmport.chat", "WARNING"),
        ("llmport.chat", "INFO"),
    ]
    assert "llmport.retry" in records[0].getMessage()
    assert "llmport.call" in records[1].getMessage()
    assert SECRET not in info.text
    assert "private" not in info.text


def test_content_is_logged_only_when_the_service_opts_in(
    info: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    with capture_logs() as entries:
        chat_service(FakeChat("the reply"), clock, log_content=True).complete(prompt())
    assert entries[0]["prompt"] == [
        {"role": "system", "text": "be brief"},
        {"role": "user", "text": PROMPT},
    ]
    assert entries[0]["reply"] == "the reply"
    assert SECRET not in repr(entries)


def test_disabled_levels_produce_no_events(caplog: pytest.LogCaptureFixture, clock: FakeClock) -> None:
    caplog.set_level(logging.ERROR, logger="llmport")
    with capture_logs() as entries:
        chat_service(FakeChat(ServiceUnavailableError("down"), "ok"), clock, log_content=True).complete(
            prompt()
        )
    assert entries == []


def test_a_stream_logs_one_event_when_it_ends_with_the_last_chunks_usage(
    info: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    with capture_logs() as entries:
        chunks = list(chat_service(FakeChat("a b c"), clock).stream(prompt()))
    assert len(chunks) == 4
    assert len(entries) == 1
    entry = entries[0]
    assert (entry["operation"], entry["status"], entry["completion_tokens"]) == ("chat.stream", "ok", 3)
    assert entry["request_id"] == "fake-request-1"


def test_a_stream_the_caller_abandons_logs_cancelled(
    info: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    with capture_logs() as entries:
        chunks = chat_service(FakeChat("a b c"), clock).stream(prompt())
        next(chunks)
        chunks.close()  # type: ignore[attr-defined]
    assert [(entry["operation"], entry["status"]) for entry in entries] == [("chat.stream", "cancelled")]


def test_an_embedding_call_logs_one_event_with_its_batches(
    info: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    retrier = Retrier(RetryPolicy(), sleep=clock.sleep, clock=clock, rand=lambda: 0.5)
    embeddings = EmbeddingService(FakeEmbeddings(), provider="fake", model="e", retrier=retrier, batch_size=2)
    with capture_logs() as entries:
        embeddings.embed(EmbeddingRequest(("secret text one", "two", "three")))
    assert len(entries) == 1
    entry = entries[0]
    assert set(entry) >= CALL_KEYS
    assert (entry["operation"], entry["batches"], entry["inputs"], entry["attempt"]) == ("embed", 2, 3, 2)
    assert entry["prompt_tokens"] == 5
    assert "secret text" not in repr(entries)


def test_the_library_never_configures_logging_or_structlog() -> None:
    root_handlers = list(logging.getLogger().handlers)
    was_configured = structlog.is_configured()
    logger = get_logger("llmport.test")
    assert logging.getLogger("llmport.test").handlers == []
    assert logging.getLogger().handlers == root_handlers
    assert structlog.is_configured() is was_configured
    assert hasattr(logger, "info")
