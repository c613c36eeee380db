"""Domain errors as HTTP responses, one table shared by the Flask and Django edges."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from ..domain.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
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
    ValidationError,
)

__all__ = ["HttpErrorResponse", "error_response"]


class HttpErrorResponse(NamedTuple):
    """What a web framework sends for a domain error: status, JSON body, extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class _Rule(NamedTuple):
    status: int
    type: str
    # None: the error's own message is shown, because it is about the caller's request and says
    # what to fix. Otherwise a fixed text, because the message is about our side (settings,
    # credentials, the upstream service) and is none of the web caller's business.
    public_message: str | None


# An upstream failure is our dependency failing, not the caller's request: 502/503/504, never the
# provider's own 401/403/404, which would tell the web caller that *they* are unauthenticated.
_RULES: dict[type[LLMPortError], _Rule] = {
    ValidationError: _Rule(400, "invalid_request", None),
    BadRequestError: _Rule(400, "bad_request", None),
    ContextLengthExceededError: _Rule(400, "context_length_exceeded", None),
    ContentFilteredError: _Rule(422, "content_filtered", None),
    RateLimitedError: _Rule(429, "rate_limited", "The language model is busy; retry later."),
    # Waiting does not refill a quota, so this is our outage rather than the caller's rate.
    QuotaExceededError: _Rule(503, "quota_exceeded", "The language model quota is used up."),
    ConfigurationError: _Rule(500, "configuration_error", "The language model client is misconfigured."),
    AuthenticationError: _Rule(502, "upstream_authentication_failed", "The language model refused access."),
    PermissionDeniedError: _Rule(502, "upstream_permission_denied", "The language model refused access."),
    NotFoundError: _Rule(502, "upstream_not_found", "The language model deployment was not found."),
    ServiceUnavailableError: _Rule(503, "upstream_unavailable", "The language model is unavailable."),
    ConnectionFailedError: _Rule(502, "upstream_connection_failed", "The language model was unreachable."),
    RequestTimeoutError: _Rule(504, "upstream_timeout", "The language model did not answer in time."),
    StreamInterruptedError: _Rule(502, "upstream_stream_interrupted", "The language model reply broke off."),
    ProviderError: _Rule(502, "upstream_error", "The language model failed."),
    LLMPortError: _Rule(500, "llmport_error", "The language model client failed."),
}


def error_response(error: LLMPortError) -> HttpErrorResponse:
    """Map a domain error onto the HTTP response a web caller should get.

    The most specific class in the error's MRO decides (a ContentFilteredError is a 422 although
    it is a BadRequestError). The body is ``{"error": {"type", "message", "retryable",
    "request_id", ...}}``; ``code`` is added for the caller's own mistakes (4xx), and a 429 carries
    ``Retry-After`` in whole seconds, rounded up. Nothing secret is ever included: messages about
    our side are replaced by fixed texts.

    Args:
        error: the domain error a view let through.
    """
    rule = next(_RULES[cls] for cls in type(error).__mro__ if cls in _RULES)
    detail: dict[str, Any] = {
        "type": rule.type,
        "message": error.message if rule.public_message is None else rule.public_message,
        "retryable": error.retryable,
        "request_id": error.request_id,
    }
    headers: dict[str, str] = {}
    if rule.status < 500 and error.code is not None:
        detail["code"] = error.code
    if isinstance(error, ContentFilteredError) and error.filter_results:
        detail["content_filter"] = dict(error.filter_results)
    if isinstance(error, RateLimitedError) and error.retry_after is not None:
        seconds = max(0, math.ceil(error.retry_after))
        detail["retry_after"] = seconds
        headers["Retry-After"] = str(seconds)
    return HttpErrorResponse(rule.status, {"error": detail}, headers)
