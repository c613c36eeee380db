"""Responses API stream events into ChatChunks; no event is lost on the way."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ....domain.errors import StreamInterruptedError
from ....domain.models import ChatChunk, ToolCallDelta
from ....domain.responses_items import StreamEvent
from .errors import redact
from .responses import parse_response
from .responses_items import stream_event

__all__ = ["ResponsesStreamReader"]

_TEXT = "response.output_text.delta"
_REFUSAL = "response.refusal.delta"
_REASONING = "response.reasoning_summary_text.delta"
_DELTAS = frozenset((_TEXT, _REFUSAL, _REASONING))


class ResponsesStreamReader:
    """Turns Responses API stream events into ChatChunks.

    Text, refusal and reasoning-summary deltas and function-call fragments become chunks; the
    terminal event (``response.completed`` / ``response.incomplete``) gives the finish reason,
    usage, the response id and every output item. Every other event is typed
    (:mod:`llmport.domain.responses_items`) and rides on the next chunk, in ``events``, so that
    a caller sees all of them without the stream starting earlier than its first delta.

    Args:
        request_id: the reply's request id.
        apim_request_id: Azure API Management's request id, when sent.
        parser: the structured-output parser, handed to ``fold_stream`` on the last chunk.
    """

    def __init__(
        self,
        request_id: str | None,
        apim_request_id: str | None = None,
        parser: Callable[[str], Any] | None = None,
    ) -> None:
        self.request_id = request_id
        self.apim_request_id = apim_request_id
        self.finished = False
        self._parser = parser
        self._model = ""
        self._id: str | None = None
        self._pending: list[StreamEvent] = []
        self._tool_index: dict[int, int] = {}  # output_index -> position among tool calls

    def feed(self, data: Mapping[str, Any]) -> ChatChunk | None:
        """Read one event's JSON; return the chunk to yield, if any.

        Raises:
            ContentFilteredError: the filter cut the reply.
            StreamInterruptedError: a ``response.failed`` or ``error`` event.
        """
        kind = data.get("type")
        if kind in _DELTAS:
            delta = data.get("delta") or ""
            return self._chunk(
                data,
                text=delta if kind == _TEXT else "",
                refusal=delta if kind == _REFUSAL else "",
                reasoning=delta if kind == _REASONING else "",
            )
        if kind == "response.function_call_arguments.delta":
            index = self._tool_index.setdefault(data["output_index"], len(self._tool_index))
            return self._chunk(data, tool_calls=(ToolCallDelta(index, arguments=data.get("delta") or ""),))
        if kind in ("response.failed", "error"):
            raise self._failed(data)
        self._pending.append(stream_event(data))
        return self._event(kind, data)

    def _failed(self, data: Mapping[str, Any]) -> StreamInterruptedError:
        """The error a ``response.failed`` or ``error`` event reports."""
        error = (data.get("response") or {}).get("error") or data
        return StreamInterruptedError(
            f"the provider reported an error mid-stream: "
            f"{redact(str(error.get('message') or 'no reason given'))}",
            code=error.get("code"),
            request_id=self.request_id,
        )

    def _event(self, kind: Any, data: Mapping[str, Any]) -> ChatChunk | None:
        """An event kept for the next chunk's ``events``: what it changes, and its chunk if any."""
        if kind in ("response.created", "response.in_progress", "response.queued"):
            response = data.get("response") or {}
            self._model = response.get("model") or self._model
            self._id = response.get("id") or self._id
        elif kind == "response.output_item.added" and data["item"].get("type") == "function_call":
            item = data["item"]
            index = self._tool_index.setdefault(data["output_index"], len(self._tool_index))
            delta = ToolCallDelta(index, item.get("call_id"), item.get("name"), item.get("arguments") or "")
            return self._chunk(data, tool_calls=(delta,))
        elif kind in ("response.completed", "response.incomplete"):
            return self._final(data)
        return None

    def _final(self, data: Mapping[str, Any]) -> ChatChunk:
        # The whole response comes once more at the end: read it as complete() would.
        reply = parse_response(data["response"], self.request_id)
        self.finished = True
        events, self._pending = tuple(self._pending), []
        return ChatChunk(
            finish_reason=reply.finish_reason,
            usage=reply.usage,
            model=reply.model or self._model,
            request_id=self.request_id,
            id=reply.id or self._id,
            created=reply.created,
            service_tier=reply.service_tier,
            output=reply.output,
            events=events,
            apim_request_id=self.apim_request_id,
            parse=self._parser,
            raw=data,
        )

    def _chunk(
        self,
        data: Mapping[str, Any],
        *,
        text: str = "",
        refusal: str = "",
        reasoning: str = "",
        tool_calls: tuple[ToolCallDelta, ...] = (),
    ) -> ChatChunk:
        events: tuple[StreamEvent, ...] = ()
        if self._pending:
            events, self._pending = tuple(self._pending), []
        return ChatChunk(
            text=text,
            tool_calls=tool_calls,
            model=self._model,
            request_id=self.request_id,
            refusal=refusal,
            reasoning=reasoning,
            id=self._id,
            events=events,
            apim_request_id=self.apim_request_id,
            raw=data,
        )
