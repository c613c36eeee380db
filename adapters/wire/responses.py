"""Domain <-> wire JSON for the Responses API: the same domain models, another request shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...domain.errors import ProviderError, StreamInterruptedError, ValidationError
from ...domain.models import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    ImagePart,
    Message,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from .chat import filtered_error
from .errors import redact

__all__ = ["ResponsesStreamReader", "parse_response", "responses_body"]

# Responses statuses and incomplete reasons, in chat.completions' finish_reason vocabulary,
# so that callers see one domain whichever API the adapter speaks.
_FINISH = {"max_output_tokens": "length", "content_filter": "content_filter"}


def responses_body(request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
    """Build a ``POST /responses`` body.

    Leading system messages become ``instructions``; later ones stay system input items.

    Raises:
        ValidationError: ``stop`` or ``seed`` is set: the Responses API has neither, and
            dropping them silently would change the reply.
    """
    for name in ("stop", "seed"):
        if getattr(request, name) is not None:
            raise ValidationError(f"{name} is not supported by the Responses API; unset it or use api='chat'")
    messages = list(request.messages)
    instructions: list[str] = []
    while messages and messages[0].role == "system":
        instructions.append(messages.pop(0).text)
    body: dict[str, Any] = {"model": model, "input": [i for m in messages for i in _items(m)]}
    if instructions:
        body["instructions"] = "\n\n".join(instructions)
    if stream:
        body["stream"] = True
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.max_tokens is not None:
        body["max_output_tokens"] = request.max_tokens
    body.update(_tooling(request))
    if request.user is not None:
        body["user"] = request.user
    body.update(request.extra)
    return body


def _tooling(request: ChatRequest) -> dict[str, Any]:
    """The tools, tool_choice and text.format fields."""
    fields: dict[str, Any] = {}
    if request.tools:
        fields["tools"] = [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": dict(t.parameters),
                # Sent always: the Responses API treats a missing strict as true.
                "strict": t.strict,
            }
            for t in request.tools
        ]
    if request.tool_choice is not None:
        fields["tool_choice"] = (
            request.tool_choice
            if request.tool_choice in ("auto", "none", "required")
            else {"type": "function", "name": request.tool_choice}
        )
    fmt = request.response_format
    if fmt is not None:
        wire_format: dict[str, Any] = {"type": fmt.type}
        if fmt.type == "json_schema":
            wire_format.update(name=fmt.name, schema=dict(fmt.schema or {}), strict=fmt.strict)
        fields["text"] = {"format": wire_format}
    return fields


def _items(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [{"type": "function_call_output", "call_id": message.tool_call_id, "output": message.text}]
    items: list[dict[str, Any]] = []
    content = message.content
    if message.role == "user" and content is not None and not isinstance(content, str):
        parts = [
            {"type": "input_image", "image_url": part.as_url(), "detail": part.detail}
            if isinstance(part, ImagePart)
            else {"type": "input_text", "text": part.text}
            for part in content
        ]
        items.append({"role": "user", "content": parts})
    elif content is not None:
        items.append({"role": message.role, "content": message.text})
    items.extend(
        {"type": "function_call", "call_id": c.id, "name": c.name, "arguments": c.arguments}
        for c in message.tool_calls
    )
    return items


def _usage(data: Mapping[str, Any] | None) -> Usage:
    if not data:
        return Usage()
    return Usage(
        prompt_tokens=data.get("input_tokens") or 0,
        completion_tokens=data.get("output_tokens") or 0,
        total_tokens=data.get("total_tokens") or 0,
        cached_tokens=(data.get("input_tokens_details") or {}).get("cached_tokens") or 0,
        reasoning_tokens=(data.get("output_tokens_details") or {}).get("reasoning_tokens") or 0,
    )


def _finish_reason(data: Mapping[str, Any], has_calls: bool, request_id: str | None) -> str | None:
    status = data.get("status")
    if status == "failed":
        error = data.get("error") or {}
        raise ProviderError(
            f"the response failed: {redact(str(error.get('message') or 'no reason given'))}",
            code=error.get("code"),
            request_id=request_id,
        )
    reason = (data.get("incomplete_details") or {}).get("reason")
    if reason == "content_filter":
        raise filtered_error(data.get("content_filter_results"), request_id)
    if status == "incomplete":
        return _FINISH.get(reason or "", reason or "length")
    if has_calls:
        return "tool_calls"
    return "stop" if status == "completed" else status


def parse_response(data: Mapping[str, Any], request_id: str | None) -> ChatResponse:
    """Read a ``response`` JSON body into a ChatResponse.

    Raises:
        ContentFilteredError: the response is incomplete because of the content filter.
        ProviderError: the response's status is ``failed``.
    """
    texts: list[str] = []
    calls: list[ToolCall] = []
    for item in data.get("output") or ():
        if item.get("type") == "message":
            for part in item.get("content") or ():
                if part.get("type") == "output_text":
                    texts.append(part.get("text") or "")
                elif part.get("type") == "refusal":
                    texts.append(part.get("refusal") or "")
        elif item.get("type") == "function_call":
            calls.append(ToolCall(item["call_id"], item["name"], item.get("arguments") or "{}"))
    finish = _finish_reason(data, bool(calls), request_id)
    text = "".join(texts)
    return ChatResponse(
        message=Message("assistant", text if text or not calls else None, tool_calls=tuple(calls)),
        finish_reason=finish,
        usage=_usage(data.get("usage")),
        model=data.get("model") or "",
        request_id=request_id,
    )


class ResponsesStreamReader:
    """Turns Responses API stream events into ChatChunks.

    Text deltas and function-call fragments become chunks; the terminal event
    (``response.completed`` / ``response.incomplete``) gives the finish reason and usage.
    """

    def __init__(self, request_id: str | None) -> None:
        self.request_id = request_id
        self.finished = False
        self._model = ""
        self._tool_index: dict[int, int] = {}  # output_index -> position among tool calls

    def feed(self, data: Mapping[str, Any]) -> ChatChunk | None:
        """Read one event's JSON; return the chunk to yield, if any.

        Raises:
            ContentFilteredError: the filter cut the reply.
            StreamInterruptedError: a ``response.failed`` or ``error`` event.
        """
        kind = data.get("type")
        if kind in ("response.output_text.delta", "response.refusal.delta"):
            return self._chunk(text=data.get("delta") or "")
        if kind == "response.output_item.added" and data["item"].get("type") == "function_call":
            item = data["item"]
            index = self._tool_index.setdefault(data["output_index"], len(self._tool_index))
            delta = ToolCallDelta(index, item.get("call_id"), item.get("name"), item.get("arguments") or "")
            return self._chunk(tool_calls=(delta,))
        if kind == "response.function_call_arguments.delta":
            index = self._tool_index.setdefault(data["output_index"], len(self._tool_index))
            return self._chunk(tool_calls=(ToolCallDelta(index, arguments=data.get("delta") or ""),))
        if kind in ("response.created", "response.in_progress"):
            self._model = (data.get("response") or {}).get("model") or self._model
        elif kind in ("response.completed", "response.incomplete"):
            response = data["response"]
            self._model = response.get("model") or self._model
            finish = _finish_reason(response, bool(self._tool_index), self.request_id)
            self.finished = True
            return self._chunk(finish_reason=finish, usage=_usage(response.get("usage")))
        elif kind in ("response.failed", "error"):
            error = (data.get("response") or {}).get("error") or data
            raise StreamInterruptedError(
                f"the provider reported an error mid-stream: "
                f"{redact(str(error.get('message') or 'no reason given'))}",
                code=error.get("code"),
                request_id=self.request_id,
            )
        return None

    def _chunk(
        self,
        *,
        text: str = "",
        tool_calls: tuple[ToolCallDelta, ...] = (),
        finish_reason: str | None = None,
        usage: Usage | None = None,
    ) -> ChatChunk:
        return ChatChunk(
            text=text,
            tool_calls=tool_calls,
            finish_reason=finish_reason,
            usage=usage,
            model=self._model,
            request_id=self.request_id,
        )
