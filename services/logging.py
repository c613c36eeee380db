"""Structured call and retry events on stdlib loggers under ``llmport.``; never configures logging."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

from ..domain.errors import LLMPortError
from ..domain.models import Usage
from .retry import RetryEvent

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

__all__ = ["CallLog", "get_logger"]


def get_logger(name: str) -> FilteringBoundLogger:
    """Return a structlog logger wrapped around ``logging.getLogger(name)``.

    The library never calls ``structlog.configure`` or ``logging.basicConfig``: the application's
    structlog processors (if any) shape the event and its stdlib handlers decide where it goes.
    """
    # Imported here: structlog (and what it imports) loads with the first event logged, not with llmport.
    import structlog

    return cast("FilteringBoundLogger", structlog.wrap_logger(logging.getLogger(name)))


class CallLog:
    """Writes one INFO event per call and one WARNING event per retry for one service.

    Each method first asks the stdlib logger whether the level is enabled, so that with logging
    off a call costs one cached level check. Events hold ids, counts and class names only:
    never a key, a token, or message content (content is the caller's opt-in, passed in ``extra``).

    Args:
        name: the logger name, e.g. ``llmport.chat``.
        provider: the provider name put on every event.
    """

    __slots__ = ("_log", "_provider", "_stdlib")

    def __init__(self, name: str, *, provider: str) -> None:
        self._stdlib = logging.getLogger(name)
        self._log: FilteringBoundLogger | None = None  # wrapped on the first event written
        self._provider = provider

    def _logger(self) -> FilteringBoundLogger:
        # Two threads may both wrap it on the first event: equivalent loggers, one is kept.
        if self._log is None:
            self._log = get_logger(self._stdlib.name)
        return self._log

    @property
    def enabled(self) -> bool:
        """Whether call events (INFO) are written; check it before computing costly extras."""
        return self._stdlib.isEnabledFor(logging.INFO)

    def call_ok(
        self,
        *,
        operation: str,
        model: str | None,
        attempt: int,
        latency_ms: float,
        usage: Usage | None,
        request_id: str | None,
        status: str = "ok",
        extra: Mapping[str, object] | None = None,
    ) -> None:
        """Log a call that succeeded (``status`` is ``cancelled`` for a stream the caller left)."""
        if self._stdlib.isEnabledFor(logging.INFO):
            self._call_event(
                operation=operation,
                model=model,
                attempt=attempt,
                status=status,
                latency_ms=latency_ms,
                usage=usage,
                request_id=request_id,
                extra=extra,
            )

    def call_failed(
        self,
        *,
        operation: str,
        model: str | None,
        attempt: int,
        latency_ms: float,
        error: BaseException,
        status: str = "error",
        usage: Usage | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        """Log a call that ended in an error (at INFO: raising it is the caller's business)."""
        if not self._stdlib.isEnabledFor(logging.INFO):
            return
        domain = error if isinstance(error, LLMPortError) else None
        details = {
            "error": type(error).__name__,
            "code": domain.code if domain else None,
            "status_code": domain.status_code if domain else None,
            **(extra or {}),
        }
        self._call_event(
            operation=operation,
            model=model,
            attempt=attempt,
            status=status,
            latency_ms=latency_ms,
            usage=usage,
            request_id=domain.request_id if domain else None,
            extra=details,
        )

    def _call_event(
        self,
        *,
        operation: str,
        model: str | None,
        attempt: int,
        status: str,
        latency_ms: float,
        usage: Usage | None,
        request_id: str | None,
        extra: Mapping[str, object] | None,
    ) -> None:
        usage = usage or Usage()
        self._logger().info(
            "llmport.call",
            provider=self._provider,
            operation=operation,
            model=model,
            attempt=attempt,
            status=status,
            latency_ms=round(latency_ms, 3),
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
            request_id=request_id,
            **(extra or {}),
        )

    def retry(
        self,
        *,
        operation: str,
        model: str | None,
        event: RetryEvent,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        """Log a retry about to happen, at WARNING."""
        if not self._stdlib.isEnabledFor(logging.WARNING):
            return
        error = event.error
        self._logger().warning(
            "llmport.retry",
            provider=self._provider,
            operation=operation,
            model=model,
            attempt=event.attempt,
            status="retry",
            reason=event.reason,
            delay_s=round(event.delay, 3),
            request_id=error.request_id,
            error=type(error).__name__,
            code=error.code,
            status_code=error.status_code,
            **(extra or {}),
        )
