"""The faults the loopback injects, what llmport must do about each, and a runner that measures it."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from typing import Any

from harness import JITTER_WAITS, wire
from loopback import LoopbackServer, RecordedRequest, Reply
from wire_samples import azure_error, chat_chunks, openai_error

from llmport import (
    AuthenticationError,
    BadRequestError,
    ConnectionFailedError,
    LLMPortError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    QuotaExceededError,
    RateLimitedError,
    RequestTimeoutError,
    ServiceUnavailableError,
    StreamInterruptedError,
)
from llmport.adapters.fakes import FakeCredential

MAX_RETRIES = 2  # the default policy: at most 3 requests per call
DEADLINE = 120.0  # the default deadline, in (fake) seconds
MAX_RETRY_AFTER = 30.0  # the default cap on a provider's Retry-After

#: A scripted reply for attempt number n (1-based) on a provider; None sends the loopback's valid default.
ReplyFor = Callable[[int, str], "Reply | None"]


def error(status: int, code: str | None, message: str, **headers: str) -> Callable[[str], Reply]:
    """The provider's error reply: OpenAI's body on openai and azure_v1, Azure's on azure classic."""

    def build(provider: str) -> Reply:
        body = (
            azure_error(code or str(status), message)
            if provider == "azure"
            else openai_error(message, code=code)
        )
        return Reply(status, body, headers=headers)

    return build


def always(make: Callable[[str], Reply]) -> ReplyFor:
    return lambda _attempt, provider: make(provider)


def first(times: int, make: Callable[[str], Reply]) -> ReplyFor:
    """The fault for the first ``times`` attempts, then the valid default."""
    return lambda attempt, provider: make(provider) if attempt <= times else None


def constant(reply: Reply) -> ReplyFor:
    return lambda _attempt, _provider: reply


def _http_date_in(seconds: float) -> Callable[[str], Reply]:
    # Built when the request arrives, like a server computing its own Retry-After date.
    def build(provider: str) -> Reply:
        date = formatdate(time.time() + seconds, usegmt=True)
        return error(429, "rate_limit_exceeded", "Rate limit reached", **{"retry-after": date})(provider)

    return build


@dataclass(frozen=True)
class Fault:
    """One row of the table: the fault, and what the client must do about it.

    ``waits`` holds one (low, high) range per expected wait, in seconds; most are exact.
    ``error`` is None when the call must succeed. ``request_id`` is the id the error must carry
    (the loopback numbers replies ``req-1``, ``req-2``... in arrival order).
    """

    id: str
    description: str
    reply: ReplyFor
    requests: int
    waits: tuple[tuple[float, float], ...]
    error: type[LLMPortError] | None
    status: int | None = None
    code: str | None = None
    request_id: str | None = None
    operation: str = "chat"  # chat, stream or embed
    auth: str = "key"  # key, or entra (a FakeCredential behind the real TokenCache)
    token_fetches: int | None = None
    chunks: int | None = None  # stream: chunks received before the error
    options: Mapping[str, Any] = field(default_factory=dict)


def _exact(*waits: float) -> tuple[tuple[float, float], ...]:
    return tuple((wait, wait) for wait in waits)


_RATE = "Rate limit reached for requests"
_BUSY = "The server had an error while processing your request"
JITTERED = _exact(*JITTER_WAITS)

FAULTS: tuple[Fault, ...] = (
    Fault(
        "429-retry-after-ms",
        "429 with retry-after-ms: 1500",
        always(error(429, "rate_limit_exceeded", _RATE, **{"retry-after-ms": "1500"})),
        3,
        _exact(1.5, 1.5),
        RateLimitedError,
        429,
        "rate_limit_exceeded",
        "req-3",
    ),
    Fault(
        "429-retry-after-s",
        "429 with retry-after: 2",
        always(error(429, "rate_limit_exceeded", _RATE, **{"retry-after": "2"})),
        3,
        _exact(2.0, 2.0),
        RateLimitedError,
        429,
        "rate_limit_exceeded",
        "req-3",
    ),
    Fault(
        "429-retry-after-date",
        "429 with retry-after: an HTTP date 5 s ahead",
        always(_http_date_in(5)),
        3,
        ((3.5, 5.0), (3.5, 5.0)),
        RateLimitedError,
        429,
        "rate_limit_exceeded",
        "req-3",
    ),
    Fault(
        "429-retry-after-over-cap",
        "429 with retry-after: 120 (cap 30)",
        always(error(429, "rate_limit_exceeded", _RATE, **{"retry-after": "120"})),
        3,
        _exact(30.0, 30.0),
        RateLimitedError,
        429,
        "rate_limit_exceeded",
        "req-3",
    ),
    Fault(
        "429-over-cap-deadline-45",
        "429 with retry-after: 120, deadline 45 s",
        always(error(429, "rate_limit_exceeded", _RATE, **{"retry-after": "120"})),
        2,
        _exact(30.0),
        RateLimitedError,
        429,
        "rate_limit_exceeded",
        "req-2",
        options={"deadline": 45.0},
    ),
    Fault(
        "429-no-hint",
        "429 without a retry hint",
        always(error(429, "rate_limit_exceeded", _RATE)),
        3,
        JITTERED,
        RateLimitedError,
        429,
        "rate_limit_exceeded",
        "req-3",
    ),
    Fault(
        "429-twice-then-ok",
        "429 (retry-after-ms: 200) twice, then 200",
        first(2, error(429, "rate_limit_exceeded", _RATE, **{"retry-after-ms": "200"})),
        3,
        _exact(0.25, 0.5),
        None,
    ),
    Fault(
        "429-insufficient-quota",
        "429 insufficient_quota",
        always(error(429, "insufficient_quota", "You exceeded your current quota")),
        1,
        (),
        QuotaExceededError,
        429,
        "insufficient_quota",
        "req-1",
    ),
    Fault(
        "500",
        "500",
        always(error(500, "server_error", _BUSY)),
        3,
        JITTERED,
        ServiceUnavailableError,
        500,
        "server_error",
        "req-3",
    ),
    Fault(
        "502",
        "502",
        always(error(502, "bad_gateway", "Bad gateway")),
        3,
        JITTERED,
        ServiceUnavailableError,
        502,
        "bad_gateway",
        "req-3",
    ),
    Fault(
        "503",
        "503",
        always(error(503, "service_unavailable", "Service unavailable")),
        3,
        JITTERED,
        ServiceUnavailableError,
        503,
        "service_unavailable",
        "req-3",
    ),
    Fault(
        "504",
        "504",
        always(error(504, "gateway_timeout", "Gateway timeout")),
        3,
        JITTERED,
        ServiceUnavailableError,
        504,
        "gateway_timeout",
        "req-3",
    ),
    Fault(
        "503-once-then-ok",
        "503 once, then 200",
        first(1, error(503, "service_unavailable", "Service unavailable")),
        2,
        _exact(0.25),
        None,
    ),
    Fault(
        "408",
        "408",
        always(error(408, "timeout", "Request timed out")),
        3,
        JITTERED,
        RequestTimeoutError,
        408,
        "timeout",
        "req-3",
    ),
    Fault(
        "409",
        "409",
        always(error(409, "conflict", "Conflict")),
        3,
        JITTERED,
        ProviderError,
        409,
        "conflict",
        "req-3",
    ),
    Fault(
        "400",
        "400",
        always(error(400, "invalid_value", "Invalid value for temperature")),
        1,
        (),
        BadRequestError,
        400,
        "invalid_value",
        "req-1",
    ),
    Fault(
        "401-key",
        "401 with an API key",
        always(error(401, "invalid_api_key", "Incorrect API key provided")),
        1,
        (),
        AuthenticationError,
        401,
        "invalid_api_key",
        "req-1",
    ),
    Fault(
        "401-token-always",
        "401 on every token (Entra ID)",
        always(error(401, "invalid_token", "Token expired")),
        2,
        (),
        AuthenticationError,
        401,
        "invalid_token",
        "req-2",
        auth="entra",
        token_fetches=2,
    ),
    Fault(
        "401-token-once-then-ok",
        "401 once on an expired token, then 200 (Entra ID)",
        first(1, error(401, "invalid_token", "Token expired")),
        2,
        (),
        None,
        auth="entra",
        token_fetches=2,
    ),
    Fault(
        "403",
        "403",
        always(error(403, "PermissionDenied", "Principal does not have access")),
        1,
        (),
        PermissionDeniedError,
        403,
        "PermissionDenied",
        "req-1",
    ),
    Fault(
        "404",
        "404 DeploymentNotFound",
        always(error(404, "DeploymentNotFound", "The API deployment for this resource does not exist")),
        1,
        (),
        NotFoundError,
        404,
        "DeploymentNotFound",
        "req-1",
    ),
    Fault(
        "reset",
        "connection reset before the response",
        constant(Reply(reset=True)),
        3,
        JITTERED,
        ConnectionFailedError,
    ),
    Fault(
        "reset-once-then-ok",
        "connection reset once, then 200",
        lambda n, _p: Reply(reset=True) if n == 1 else None,
        2,
        _exact(0.25),
        None,
    ),
    Fault(
        "slow",
        "answer after 0.5 s, timeout 0.2 s",
        constant(Reply(delay=0.5)),
        3,
        JITTERED,
        RequestTimeoutError,
        options={"timeout": 0.2},
    ),
    Fault(
        "malformed-json",
        "200 with malformed JSON",
        constant(Reply(raw=b'{"id": "chatcmpl-1", "choices": [')),
        1,
        (),
        ProviderError,
        None,
        None,
        "req-1",
    ),
    Fault(
        "html-502",
        "502 with an HTML body",
        constant(
            Reply(
                502, raw=b"<html><body>502 Bad Gateway</body></html>", headers={"content-type": "text/html"}
            )
        ),
        3,
        JITTERED,
        ServiceUnavailableError,
        502,
        None,
        "req-3",
    ),
    Fault(
        "503-retry-after-ms",
        "503 with retry-after-ms: 1500",
        always(error(503, "service_unavailable", _BUSY, **{"retry-after-ms": "1500"})),
        3,
        _exact(1.5, 1.5),
        ServiceUnavailableError,
        503,
        "service_unavailable",
        "req-3",
    ),
    Fault(
        "503-x-ms-retry-after-ms",
        "503 with x-ms-retry-after-ms: 700",
        always(error(503, "service_unavailable", _BUSY, **{"x-ms-retry-after-ms": "700"})),
        3,
        _exact(0.7, 0.7),
        ServiceUnavailableError,
        503,
        "service_unavailable",
        "req-3",
    ),
    Fault(
        "200-error-body",
        "200 whose body is only an error",
        constant(Reply(200, {"error": {"message": "The engine is overloaded", "code": "engine_overloaded"}})),
        1,
        (),
        ProviderError,
        None,
        "engine_overloaded",
        "req-1",
    ),
    Fault(
        "401-detail-body",
        'a 401 with a FastAPI-style body {"detail": ...}',
        constant(Reply(401, {"detail": "Invalid subscription key"})),
        1,
        (),
        AuthenticationError,
        401,
        None,
        "req-1",
    ),
    Fault(
        "400-error-string",
        'a 400 with {"error": "a string"}',
        constant(Reply(400, {"error": "Unknown deployment: gpt-x"})),
        1,
        (),
        BadRequestError,
        400,
        None,
        "req-1",
    ),
    Fault(
        "text-400",
        "400 with a plain-text body",
        constant(Reply(400, raw=b"Bad Request", headers={"content-type": "text/plain"})),
        1,
        (),
        BadRequestError,
        400,
        None,
        "req-1",
    ),
    Fault(
        "stream-cut-after-2",
        "stream cut after 2 events",
        constant(Reply(events=chat_chunks(("one ", "two ", "three")), cut_after=2)),
        1,
        (),
        StreamInterruptedError,
        None,
        None,
        "req-1",
        operation="stream",
        chunks=1,
    ),
    Fault(
        "stream-cut-before-first-chunk",
        "stream cut after its first event, before any text",
        constant(Reply(events=chat_chunks(("one ", "two")), cut_after=1)),
        3,
        JITTERED,
        StreamInterruptedError,
        None,
        None,
        "req-3",
        operation="stream",
        chunks=0,
    ),
    Fault(
        "stream-cut-once-then-ok",
        "stream cut before any text once, then 200",
        lambda n, _p: Reply(events=chat_chunks(("one ", "two")), cut_after=1) if n == 1 else None,
        2,
        _exact(0.25),
        None,
        operation="stream",
        chunks=4,
    ),
    Fault(
        "stream-503-once-then-ok",
        "stream opened with 503 once, then 200",
        first(1, error(503, "service_unavailable", "Service unavailable")),
        2,
        _exact(0.25),
        None,
        operation="stream",
    ),
    Fault(
        "stream-reset",
        "stream: connection reset before the response",
        constant(Reply(reset=True)),
        3,
        JITTERED,
        ConnectionFailedError,
        operation="stream",
    ),
    Fault(
        "embed-503",
        "embeddings: 503",
        always(error(503, "service_unavailable", "Service unavailable")),
        3,
        JITTERED,
        ServiceUnavailableError,
        503,
        "service_unavailable",
        "req-3",
        operation="embed",
    ),
    Fault(
        "embed-429-once-then-ok",
        "embeddings: 429 (retry-after: 1) once, then 200",
        first(1, error(429, "rate_limit_exceeded", _RATE, **{"retry-after": "1"})),
        2,
        _exact(1.0),
        None,
        operation="embed",
    ),
)


@dataclass
class Measured:
    """What one run of a fault did, seen from the server and from the injected time."""

    requests: int
    waits: list[float]
    elapsed: float  # fake seconds: the sum of the waits
    error: LLMPortError | None
    token_fetches: int | None
    chunks: int
    requests_seen: list[RecordedRequest]


def run(server: LoopbackServer, provider: str, fault: Fault) -> Measured:
    """Run ``fault`` once through a real client on ``provider`` and measure what happened."""

    def respond(index: int, _request: RecordedRequest) -> Reply | None:
        reply = fault.reply(index + 1, provider)
        if reply is None:
            return None
        return replace(reply, headers={**reply.headers, "x-request-id": f"req-{index + 1}"})

    server.respond_with(respond)
    credential = FakeCredential() if fault.auth == "entra" else None
    if credential is not None:
        server.accept_token = lambda token: token.startswith("fake-token-")
    wiring = wire(server, provider, auth=fault.auth, credential=credential, **dict(fault.options))
    raised: LLMPortError | None = None
    chunks = 0
    try:
        with wiring.client as client:
            if fault.operation == "stream":
                for _chunk in client.stream("Count to three"):
                    chunks += 1
            elif fault.operation == "embed":
                client.embed(["alpha", "beta"])
            else:
                client.chat("When was Microsoft founded?")
    except LLMPortError as exc:
        raised = exc
    finally:
        server.respond_with(None)
    return Measured(
        requests=server.count,
        waits=list(wiring.time.sleeps),
        elapsed=wiring.time.elapsed,
        error=raised,
        token_fetches=credential.calls if credential is not None else None,
        chunks=chunks,
        requests_seen=list(server.requests),
    )
