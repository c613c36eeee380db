"""The domain's exceptions, branched by what the caller does next.

::

    LLMPortError
    ├── ConfigurationError            fix the settings; raised when the client is built
    ├── ValidationError               fix the input; raised before any network call
    ├── AuthenticationError           401, or the credential could not give a token
    ├── PermissionDeniedError         403
    ├── NotFoundError                 404, e.g. an unknown deployment
    ├── BadRequestError               400 / 422
    │   ├── ContentFilteredError      the provider's content filter refused the prompt or reply
    │   └── ContextLengthExceededError
    ├── RateLimitedError              429, retryable; carries retry_after
    ├── QuotaExceededError            429 insufficient_quota; never retried
    ├── ServiceUnavailableError       >= 500, retryable
    ├── ConnectionFailedError         nothing usable came back, retryable
    │   └── RequestTimeoutError       the request (or a 408) timed out
    ├── StreamInterruptedError        a stream broke after it started
    ├── ResponseTooLargeError         the reply passed max_response_bytes; nothing more was read
    ├── ClientClosedError             the client was closed; build a new one
    └── ProviderError                 any other answer (409, malformed body, unexpected failure)

Every error carries ``provider``, ``status_code``, ``code`` (the provider's error code),
``request_id``, ``retryable``, ``retry_after`` (the provider's hint, in seconds) and, from a
routed client, the ``deployment`` that answered; none of them
ever holds a secret, and none is chained to a vendor exception (``__cause__`` and ``__context__``
are empty): the vendor's frames hold request headers, and error trackers record frame locals.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConfigurationError",
    "ConnectionFailedError",
    "ContentFilteredError",
    "ContextLengthExceededError",
    "LLMPortError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProviderError",
    "QuotaExceededError",
    "RateLimitedError",
    "RequestTimeoutError",
    "ResponseTooLargeError",
    "ServiceUnavailableError",
    "StreamInterruptedError",
    "ValidationError",
]


class LLMPortError(Exception):
    """Root of every error llmport raises.

    Args:
        message: what happened and, where the caller can act, what to do.
        provider: ``openai``, ``azure``, ``azure_v1``, ``fake`` or ``None`` before any call.
        status_code: the HTTP status, when there was one.
        code: the provider's error code (``content_filter``, ``DeploymentNotFound``...).
        request_id: the provider's request id (``x-request-id`` / ``apim-request-id``).
        retryable: whether sending the same request again may succeed; defaults per class.
        retry_after: the provider's hint (Retry-After, retry-after-ms) in seconds, on any status.
        deployment: the deployment of a routed client that answered (see ``services/routing.py``).
    """

    default_retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
        deployment: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status_code = status_code
        self.code = code
        self.request_id = request_id
        self.retryable = self.default_retryable if retryable is None else retryable
        self.retry_after = retry_after
        self.deployment = deployment

    def __str__(self) -> str:
        details = [
            f"{name}={value}"
            for name, value in (
                ("provider", self.provider),
                ("deployment", self.deployment),
                ("status", self.status_code),
                ("code", self.code),
                ("request_id", self.request_id),
            )
            if value is not None
        ]
        return f"{self.message} ({', '.join(details)})" if details else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class ConfigurationError(LLMPortError):
    """The settings are missing, contradictory or malformed; the message names the setting."""


class ValidationError(LLMPortError, ValueError):
    """A request is malformed; raised before any network call, the message says what to fix."""


class AuthenticationError(LLMPortError):
    """The provider rejected the credentials (401) or no token could be obtained.

    ``claims`` is the claims challenge of a 401 (Continuous Access Evaluation), decoded from
    ``WWW-Authenticate``: a new token must be asked for with these claims.
    """

    def __init__(self, message: str, *, claims: str | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.claims = claims


class PermissionDeniedError(LLMPortError):
    """The credentials are valid but not allowed to do this (403)."""


class NotFoundError(LLMPortError):
    """The model, deployment or endpoint does not exist (404)."""


class BadRequestError(LLMPortError):
    """The provider refused the request as malformed (400 / 422)."""


class ContentFilteredError(BadRequestError):
    """The provider's content filter refused the prompt or the reply.

    ``filter_results`` holds the provider's per-category results, when it sent them.
    """

    def __init__(
        self,
        message: str,
        *,
        filter_results: Mapping[str, Any] | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, **details)
        self.filter_results: Mapping[str, Any] = dict(filter_results or {})


class ContextLengthExceededError(BadRequestError):
    """The prompt plus ``max_tokens`` is longer than the model's context window.

    Raised by the provider (a 400), or by llmport before sending (``status_code`` None), then
    with the numbers it counted: ``prompt_tokens``, ``max_tokens`` (what the reply may use; 0
    when unset) and ``context_window`` (of the deployment tried last, on a routed client).
    """

    def __init__(
        self,
        message: str,
        *,
        prompt_tokens: int | None = None,
        max_tokens: int | None = None,
        context_window: int | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, **details)
        self.prompt_tokens = prompt_tokens
        self.max_tokens = max_tokens
        self.context_window = context_window


class RateLimitedError(LLMPortError):
    """Too many requests (429); ``retry_after`` is the provider's hint in seconds, if any."""

    default_retryable = True


class QuotaExceededError(LLMPortError):
    """The account's quota is used up (429 ``insufficient_quota``); waiting will not help."""


class ServiceUnavailableError(LLMPortError):
    """The provider failed (>= 500)."""

    default_retryable = True


class ConnectionFailedError(LLMPortError):
    """The request could not be sent or no response came back.

    ``sent`` is False when the connection was never made (refused, unresolvable, a connect
    timeout): the provider cannot have seen the request, so another deployment may take it
    without billing it twice. True when it may have been sent (the default: the safe guess).
    """

    default_retryable = True

    def __init__(self, message: str, *, sent: bool = True, **details: Any) -> None:
        super().__init__(message, **details)
        self.sent = sent


class RequestTimeoutError(ConnectionFailedError):
    """The request took longer than the timeout, or the provider answered 408."""


class StreamInterruptedError(LLMPortError):
    """A stream broke after it had started; what was received is lost to the retry policy."""


class ResponseTooLargeError(LLMPortError):
    """The reply (or an error body, or a stream) grew past ``max_response_bytes``; reading stopped."""


class ClientClosedError(LLMPortError):
    """The client was closed (or is closing) before or during this call; build a new client."""


class ProviderError(LLMPortError):
    """An answer the tree has no branch for: an unmapped status, a malformed body, a crash."""
