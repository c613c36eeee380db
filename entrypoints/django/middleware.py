"""Django middleware turning llmport's domain errors into JSON responses at the edge."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase, JsonResponse

from ...domain.errors import LLMPortError
from ..http_errors import error_response

__all__ = ["LLMPortErrorMiddleware"]

_log = logging.getLogger("llmport.entrypoints.django")


class LLMPortErrorMiddleware:
    """Answers an llmport error a view raised with JSON and the matching status (429 keeps Retry-After).

    Add ``"llmport.entrypoints.django.middleware.LLMPortErrorMiddleware"`` to MIDDLEWARE. Other
    exceptions pass through to Django untouched. The mapping is ``llmport.entrypoints.http_errors``.

    Args:
        get_response: the next middleware or the view, as Django passes it.
    """

    sync_capable = True
    async_capable = False  # llmport is synchronous; Django adapts async stacks around it

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponseBase | None:
        """Return the JSON response for an llmport error; None lets Django handle anything else.

        Args:
            request: the request whose view raised.
            exception: what it raised.
        """
        if not isinstance(exception, LLMPortError):
            return None
        status, body, headers = error_response(exception)
        _log.warning(
            "llmport error answered with HTTP %d: %s (request_id=%s)",
            status,
            type(exception).__name__,
            exception.request_id,
        )
        return JsonResponse(body, status=status, headers=headers)
