"""The one place where openai SDK and transport exceptions become llmport's domain errors.

The domain error is raised outside the ``except`` block and keeps no link to the vendor's
exception (no ``__cause__``, no ``__context__``): the SDK's frames hold the request options with
their ``api-key`` and ``Authorization`` headers, msal's hold the client secret, and error
trackers record every frame's locals along the chain. What the vendor said that is worth keeping
(status, code, message, request id, retry hint, claims) is copied onto the domain error, redacted.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx2
import openai

from ....domain.errors import (
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConnectionFailedError,
    ContentFilteredError,
    ContextLengthExceededError,
    LLMPortError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    QuotaExceededError,
    RateLimitedError,
    RequestTimeoutError,
    ResponseTooLargeError,
    ServiceUnavailableError,
    StreamInterruptedError,
)
from ....domain.redaction import Redactor, redact, unchained
from .rate_limits import rate_hint_from_headers
from .transport import ResponseTooLarge

__all__ = [
    "Redactor",
    "error_from_body",
    "redact",
    "request_id_of",
    "retry_after_seconds",
    "translated",
    "unchained",
]

T = TypeVar("T")


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The provider's request id: OpenAI's ``x-request-id``, else Azure APIM's ``apim-request-id``."""
    return headers.get("x-request-id") or headers.get("apim-request-id") or None


def retry_after_seconds(
    headers: Mapping[str, str], *, clock: Callable[[], float] = time.time
) -> float | None:
    """Read a retry hint: ``retry-after-ms`` / ``x-ms-retry-after-ms`` (milliseconds), else ``retry-after``.

    ``retry-after`` may be seconds or an HTTP-date; a date is measured against ``clock``.
    Unparseable or negative values give None rather than a guess.
    """
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        millis = headers.get(name)
        if millis:
            try:
                value = float(millis) / 1000.0
            except ValueError:
                continue
            if value >= 0:
                return value
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(raw).timestamp() - clock()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        return max(seconds, 0.0)
    return seconds if seconds >= 0 else None


def _reset_of_exhausted(headers: Mapping[str, str]) -> float | None:
    """A 429 without Retry-After: when the exhausted limit resets (``x-ratelimit-reset-*``).

    The limit whose ``x-ratelimit-remaining-*`` is 0 is the one that refused; when neither says
    0, the later reset is the safe wait.
    """
    hint = rate_hint_from_headers(headers)
    if hint is None:
        return None
    exhausted = [
        reset
        for left, reset in (
            (hint.remaining_requests, hint.reset_requests),
            (hint.remaining_tokens, hint.reset_tokens),
        )
        if left == 0 and reset is not None
    ]
    resets = exhausted or [r for r in (hint.reset_requests, hint.reset_tokens) if r is not None]
    return max(resets, default=None)


def translated(
    operation: Callable[[], T],
    provider: str,
    redactor: Redactor,
    *,
    request_id: str | None = None,
    streaming: bool = False,
    chunks_sent: bool = True,
) -> T:
    """Return ``operation()``; whatever it raises becomes a domain error, most specific first.

    Args:
        operation: the SDK call, or one step of reading a reply.
        provider: put on every error (``openai``, ``azure``, ``azure_v1``).
        redactor: cuts the adapter's own secrets out of the provider's messages.
        request_id: the id of the response being read, for failures after the headers came.
        streaming: the stream had started, so transport failures are StreamInterruptedError.
        chunks_sent: the stream already handed out a chunk; until then a transport failure is
            retryable, as it is for a whole reply (a retry cannot repeat text nobody received).

    Raises:
        LLMPortError: always the domain error for what went wrong, with no exception chain.
    """
    try:
        return operation()
    except Exception as exc:
        details: dict[str, Any] = {"provider": provider, "request_id": request_id}
        if isinstance(exc, (openai.APIConnectionError, httpx2.TransportError, httpx2.StreamError)):
            error = _transport_error(exc, details, streaming=streaming, chunks_sent=chunks_sent)
        else:
            error = _domain_error(exc, redactor, details, streaming=streaming)
    # Raised here, after the except block, so that Python links no __context__ to it.
    raise unchained(error)


def _domain_error(
    exc: Exception, redactor: Redactor, details: dict[str, Any], *, streaming: bool
) -> LLMPortError:
    if isinstance(exc, LLMPortError):
        # Raised by our own parsing or token provider, possibly from inside the SDK: keep it,
        # without the SDK frames it passed through (their locals hold the request's headers).
        exc.__traceback__ = None
        exc.provider = exc.provider or details["provider"]
        exc.request_id = exc.request_id or details["request_id"]
        # Our parsers redact by pattern only; the adapter also knows its own key and tokens.
        return redactor.scrub(exc)
    if isinstance(exc, ResponseTooLarge):
        return _too_large(exc, details)
    if isinstance(exc, openai.APIStatusError):
        return _from_status(exc, details["provider"], redactor)
    if isinstance(exc, RuntimeError) and "closed" in str(exc):
        # httpx refuses to send on a closed client: the Client was closed while this call ran.
        return ClientClosedError("the client was closed during this call; build a new one", **details)
    # Anything else: an SDK error without a status, or the plain TypeError/ValueError the
    # SDK raises for some misconfigurations, or undecodable bytes mid-stream. Callers must
    # still only ever see domain errors.
    what = redactor(str(exc))[:300] if isinstance(exc, openai.OpenAIError) else type(exc).__name__
    if streaming:
        return StreamInterruptedError(f"the stream failed: {what}", **details)
    return ProviderError(f"the call to the provider failed: {what}", **details)


def _transport_error(
    exc: Exception, details: dict[str, Any], *, streaming: bool, chunks_sent: bool
) -> LLMPortError:
    if isinstance(exc.__cause__, ResponseTooLarge):
        return _too_large(exc.__cause__, details)
    timed_out = isinstance(exc, (openai.APITimeoutError, httpx2.TimeoutException))
    reason = _reason(exc)
    if streaming:
        what = f"timed out ({reason})" if timed_out else f"broke ({reason})"
        return StreamInterruptedError(
            f"the stream {what} before it finished", retryable=not chunks_sent, **details
        )
    # Only a connection that was never made proves the provider did not see the request.
    sent = not isinstance(exc.__cause__ or exc, (httpx2.ConnectError, httpx2.ConnectTimeout))
    if timed_out:
        return RequestTimeoutError(f"the request timed out ({reason})", sent=sent, **details)
    return ConnectionFailedError(f"could not reach the provider ({reason})", sent=sent, **details)


def _too_large(exc: ResponseTooLarge, details: dict[str, Any]) -> ResponseTooLargeError:
    return ResponseTooLargeError(f"{exc}; raise max_response_bytes if such replies are expected", **details)


def _reason(exc: BaseException) -> str:
    """The transport failure's name, and what the deadline had to do with it."""
    cause = exc.__cause__ or exc.__context__ or exc
    text = str(cause)
    if "deadline" in text:
        return "the call's deadline passed"
    return type(cause).__name__


# Statuses whose meaning does not depend on the provider's error code.
_BY_STATUS: dict[int, type[LLMPortError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,  # includes Azure's DeploymentNotFound
    408: RequestTimeoutError,
}


def _from_status(exc: openai.APIStatusError, provider: str, redactor: Redactor) -> LLMPortError:
    headers = exc.response.headers
    request_id = redactor.request_id(request_id_of(headers))
    error = error_from_body(exc.body, exc.status_code, provider, redactor, request_id)
    if error.retry_after is None and error.retryable:
        error.retry_after = retry_after_seconds(headers)
        if error.retry_after is None and exc.status_code == 429:
            error.retry_after = _reset_of_exhausted(headers)
    if isinstance(error, AuthenticationError):
        error.claims = _claims_challenge(headers.get("www-authenticate", ""))
    return error


def error_from_body(
    body: object, status: int | None, provider: str, redactor: Redactor, request_id: str | None
) -> LLMPortError:
    """The domain error for an error body (the SDK's ``exc.body``, or ``{"error": ...}`` in a 200).

    Besides OpenAI's ``{"message", "code", "type"}`` it reads what gateways and simulators send:
    ``{"detail": "..."}``, ``{"error": "a string"}``, a plain-text body.
    """
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        body = body["error"]
    fields: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
    inner = fields.get("innererror")
    inner = inner if isinstance(inner, Mapping) else {}
    code = redactor.value(_text(fields.get("code")) or _text(inner.get("code")))
    details: dict[str, Any] = {
        "provider": provider,
        "status_code": status,
        "code": code,
        "request_id": request_id,
    }
    error_class = _classify(status, code, fields, inner)
    if error_class is ContentFilteredError:
        results = inner.get("content_filter_result") or fields.get("content_filter_results")
        details["filter_results"] = results if isinstance(results, Mapping) else None
    elif status == 409:
        # A conflict (e.g. a concurrent update on the provider's side) clears on its own.
        details["retryable"] = True
    return error_class(_message(body, fields, status, redactor), **details)


def _message(body: object, fields: Mapping[str, Any], status: int | None, redactor: Redactor) -> str:
    """What the provider said (redacted, at most 500 characters), or which status it answered."""
    said = (
        _text(fields.get("message"))
        or _text(fields.get("detail"))
        or _text(fields.get("error"))
        or _text(fields.get("error_description"))
        or (body.strip() if isinstance(body, str) and not body.lstrip().startswith("<") else None)
    )
    if said:
        return redactor(said)[:500]
    return f"the provider answered HTTP {status}" if status else "the provider answered with an error"


def _claims_challenge(header: str) -> str | None:
    """The decoded ``claims`` of a CAE challenge (``WWW-Authenticate: Bearer ..., claims="base64"``)."""
    match = re.search(r'claims="([^"]+)"', header)
    if match is None:
        return None
    value = match.group(1)
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


# Error codes that say what happened when no status does (an error inside a 200 reply).
_BY_CODE: dict[str, type[LLMPortError]] = {
    "content_filter": ContentFilteredError,
    "context_length_exceeded": ContextLengthExceededError,
    "insufficient_quota": QuotaExceededError,
    "rate_limit_exceeded": RateLimitedError,
    "429": RateLimitedError,
}


def _classify(
    status: int | None, code: str | None, body: Mapping[str, Any], inner: Mapping[str, Any]
) -> type[LLMPortError]:
    if status is None:
        return _BY_CODE.get(code or "", ProviderError)
    if status in (400, 422):
        if code == "content_filter" or inner.get("code") == "ResponsibleAIPolicyViolation":
            return ContentFilteredError
        return ContextLengthExceededError if code == "context_length_exceeded" else BadRequestError
    if status == 429:
        quota = code == "insufficient_quota" or body.get("type") == "insufficient_quota"
        return QuotaExceededError if quota else RateLimitedError
    if status >= 500:
        return ServiceUnavailableError
    return _BY_STATUS.get(status, ProviderError)


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)
