"""The one place where openai SDK and transport exceptions become llmport's domain errors."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from typing import Any

import httpx2
import openai

from ..domain.errors import (
    AuthenticationError,
    BadRequestError,
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
    ServiceUnavailableError,
    StreamInterruptedError,
)

__all__ = ["redact", "request_id_of", "retry_after_seconds", "translate_errors"]

# Provider messages can echo credentials: OpenAI's 401 quotes a masked key ("sk-ab***yz"),
# gateways sometimes quote the Authorization header. Anything shaped like one is cut out.
_SECRET_PATTERNS = re.compile(
    r"(?i)(?:\bsk-[\w*.\-]+|\bbearer\s+[\w\-.~+/=*]+|\beyJ[\w\-]+\.[\w\-]+\.[\w\-]*|api-key[:=]\s*[\w*\-]+)"
)


def redact(message: str) -> str:
    """Return ``message`` with anything that looks like a key or a bearer token replaced by ``***``."""
    return _SECRET_PATTERNS.sub("***", message)


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The provider's request id: OpenAI's ``x-request-id``, else Azure APIM's ``apim-request-id``."""
    return headers.get("x-request-id") or headers.get("apim-request-id") or None


def retry_after_seconds(
    headers: Mapping[str, str], *, clock: Callable[[], float] = time.time
) -> float | None:
    """Read a retry hint: ``retry-after-ms`` (Azure, milliseconds) wins over ``retry-after``.

    ``retry-after`` may be seconds or an HTTP-date; a date is measured against ``clock``.
    Unparseable or negative values give None rather than a guess.
    """
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            value = float(millis) / 1000.0
        except ValueError:
            value = -1.0
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


@contextmanager
def translate_errors(
    provider: str, *, request_id: str | None = None, streaming: bool = False, chunks_sent: bool = True
) -> Iterator[None]:
    """Turn whatever escapes the block into a domain error, most specific first.

    Args:
        provider: put on every error (``openai``, ``azure``, ``azure_v1``).
        request_id: the id of the response being read, for failures after the headers came.
        streaming: the stream had started, so transport failures are StreamInterruptedError.
        chunks_sent: the stream already handed out a chunk; until then a transport failure is
            retryable, as it is for a whole reply (a retry cannot repeat text nobody received).

    Raises:
        LLMPortError: always the domain error for what went wrong, chained to the cause.
    """
    try:
        yield
    except LLMPortError as exc:
        # Raised by our own parsing or token provider (possibly from inside the SDK): keep it.
        if exc.provider is None:
            exc.provider = provider
        if exc.request_id is None:
            exc.request_id = request_id
        raise
    except openai.APIStatusError as exc:
        raise _from_status(exc, provider) from exc
    except (openai.APIConnectionError, httpx2.TransportError, httpx2.StreamError) as exc:
        timed_out = isinstance(exc, (openai.APITimeoutError, httpx2.TimeoutException))
        details: dict[str, Any] = {"provider": provider, "request_id": request_id}
        if streaming:
            what = "timed out" if timed_out else f"broke ({type(exc).__name__})"
            raise StreamInterruptedError(
                f"the stream {what} before it finished", retryable=not chunks_sent, **details
            ) from exc
        if timed_out:
            raise RequestTimeoutError("the request timed out", **details) from exc
        raise ConnectionFailedError(f"could not reach the provider ({_cause_name(exc)})", **details) from exc
    except Exception as exc:
        # Anything else: an SDK error without a status, or the plain TypeError/ValueError the
        # SDK raises for some misconfigurations, or undecodable bytes mid-stream. Callers must
        # still only ever see domain errors.
        what = redact(str(exc)) if isinstance(exc, openai.OpenAIError) else type(exc).__name__
        if streaming:
            raise StreamInterruptedError(
                f"the stream failed: {what}", provider=provider, request_id=request_id
            ) from exc
        raise ProviderError(
            f"the call to the provider failed: {what}", provider=provider, request_id=request_id
        ) from exc


def _cause_name(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    return type(cause).__name__ if cause is not None else type(exc).__name__


# Statuses whose meaning does not depend on the provider's error code.
_BY_STATUS: dict[int, type[LLMPortError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,  # includes Azure's DeploymentNotFound
    408: RequestTimeoutError,
}


def _from_status(exc: openai.APIStatusError, provider: str) -> LLMPortError:
    status = exc.status_code
    # The SDK has already unwrapped {"error": {...}} into exc.body.
    body: Mapping[str, Any] = exc.body if isinstance(exc.body, Mapping) else {}
    inner = body.get("innererror")
    inner = inner if isinstance(inner, Mapping) else {}
    code = _text(body.get("code")) or _text(inner.get("code"))
    message = redact(_text(body.get("message")) or f"the provider answered HTTP {status}")
    headers = exc.response.headers
    details: dict[str, Any] = {
        "provider": provider,
        "status_code": status,
        "code": code,
        "request_id": request_id_of(headers),
    }
    error_class = _classify(status, code, body, inner)
    if error_class is ContentFilteredError:
        results = inner.get("content_filter_result") or body.get("content_filter_results")
        details["filter_results"] = results if isinstance(results, Mapping) else None
    elif error_class is RateLimitedError:
        details["retry_after"] = retry_after_seconds(headers)
    elif status == 409:
        # A conflict (e.g. a concurrent update on the provider's side) clears on its own.
        details["retryable"] = True
    return error_class(message, **details)


def _classify(
    status: int, code: str | None, body: Mapping[str, Any], inner: Mapping[str, Any]
) -> type[LLMPortError]:
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
