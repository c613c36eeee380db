"""Domain <-> wire JSON for chat.completions, built and read as plain dicts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...domain.errors import ContentFilteredError, StreamInterruptedError
from ...domain.models import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    ImagePart,
    Message,
    ResponseFormat,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from .errors import redact

__all__ = [
    "ChatStreamReader",
    "chat_body",
    "filtered_error",
    "parse_chat",
    "usage_of",
]

# The SDK's typed-dict transform of the request costs more than the HTTP round trip on a
# loopback; building the wire JSON here and posting it as-is skips it (see the adapters' docs).


def chat_body(request: ChatRequest, model: str, *, stream: bool, max_tokens_field: str) -> dict[str, Any]:
    """Build the chat.completions request body.

    Args:
        request: the domain request.
        model: the model, or the deployment name on Azure.
        stream: ask for server-sent events, with usage in the last one.
        max_tokens_field: ``max_completion_tokens`` (current API) or ``max_tokens`` (old Azure).
    """
    body: dict[str, Any] = {"model": model, "messages": [_message(m) for m in request.messages]}
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.max_tokens is not None:
        body[max_tokens_field] = request.max_tokens
    if request.stop is not None:
        body["stop"] = list(request.stop)
    if request.seed is not None:
        body["seed"] = request.seed
    if request.tools:
        body["tools"] = [
            {"type": "function", "function": _function(t.name, t.description, t.parameters, t.strict)}
            for t in request.tools
        ]
    if request.tool_choice is not None:
        body["tool_choice"] = (
            request.tool_choice
            if request.tool_choice in ("auto", "none", "required")
            else {"type": "function", "function": {"name": request.tool_choice}}
        )
    if request.response_format is not None:
        body["response_format"] = _response_format(request.response_format)
    if request.user is not None:
        body["user"] = request.user
    body.update(request.extra)
    return body


def _function(name: str, description: str, parameters: Mapping[str, Any], strict: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name, "parameters": dict(parameters)}
    if description:
        spec["description"] = description
    if strict:
        # Only sent when asked: older Azure api-versions reject the field.
        spec["strict"] = True
    return spec


def _response_format(fmt: ResponseFormat) -> dict[str, Any]:
    if fmt.type != "json_schema":
        return {"type": fmt.type}
    return {
        "type": "json_schema",
        "json_schema": {"name": fmt.name, "schema": dict(fmt.schema or {}), "strict": fmt.strict},
    }


def _message(message: Message) -> dict[str, Any]:
    wire: dict[str, Any] = {"role": message.role}
    content = message.content
    if content is None or isinstance(content, str) or message.role != "user":
        wire["content"] = content if content is None or isinstance(content, str) else message.text
    else:
        wire["content"] = [
            {"type": "image_url", "image_url": {"url": part.as_url(), "detail": part.detail}}
            if isinstance(part, ImagePart)
            else {"type": "text", "text": part.text}
            for part in content
        ]
    if message.name is not None:
        wire["name"] = message.name
    if message.tool_calls:
        wire["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.tool_call_id is not None:
        wire["tool_call_id"] = message.tool_call_id
    return wire


def usage_of(data: Mapping[str, Any] | None) -> Usage:
    """Read chat/embedding usage, including cached and reasoning token details."""
    if not data:
        return Usage()
    prompt_details = data.get("prompt_tokens_details") or {}
    completion_details = data.get("completion_tokens_details") or {}
    return Usage(
        prompt_tokens=data.get("prompt_tokens") or 0,
        completion_tokens=data.get("completion_tokens") or 0,
        total_tokens=data.get("total_tokens") or 0,
        cached_tokens=prompt_details.get("cached_tokens") or 0,
        reasoning_tokens=completion_details.get("reasoning_tokens") or 0,
    )


def filtered_error(results: Any, request_id: str | None, what: str = "the reply") -> ContentFilteredError:
    """The error for a 200 whose finish_reason says the content filter cut ``what``."""
    return ContentFilteredError(
        f"the provider's content filter withheld {what} (finish_reason=content_filter)",
        filter_results=results if isinstance(results, Mapping) else None,
        status_code=200,
        code="content_filter",
        request_id=request_id,
    )


def parse_chat(data: Mapping[str, Any], request_id: str | None) -> ChatResponse:
    """Read a chat.completion JSON body into a ChatResponse.

    Raises:
        ContentFilteredError: a 200 whose finish_reason is ``content_filter``: the reply was
            withheld, and a partial answer must not pass for a whole one.
    """
    choice = data["choices"][0]
    message = choice["message"]
    calls = tuple(
        ToolCall(c["id"], c["function"]["name"], c["function"].get("arguments") or "{}")
        for c in message.get("tool_calls") or ()
    )
    text = message.get("content")
    if text is None and not calls:
        # A structured-output refusal carries its reason here instead of in content.
        text = message.get("refusal") or ""
    filters: dict[str, Any] = {}
    if data.get("prompt_filter_results"):
        filters["prompt_filter_results"] = data["prompt_filter_results"]
    if choice.get("content_filter_results"):
        filters["content_filter_results"] = choice["content_filter_results"]
    if choice.get("finish_reason") == "content_filter":
        raise filtered_error(choice.get("content_filter_results"), request_id)
    return ChatResponse(
        message=Message("assistant", text, tool_calls=calls),
        finish_reason=choice.get("finish_reason"),
        usage=usage_of(data.get("usage")),
        model=data.get("model") or "",
        request_id=request_id,
        content_filter=filters or None,
    )


class ChatStreamReader:
    """Turns chat.completion.chunk events into ChatChunks.

    Chunks with nothing in them (the role-only opening delta) are skipped. Azure's opening
    chunk has no choices, only ``prompt_filter_results``: it is not yielded, its results ride
    on the next chunk that is. Filter results accumulate, and every chunk that brings new ones carries
    the whole picture so far, so ``fold_stream`` (last one wins) ends with all of them.
    """

    def __init__(self, request_id: str | None) -> None:
        self.request_id = request_id
        self._filters: dict[str, Any] = {}
        self._filters_pending = False

    def feed(self, data: Mapping[str, Any]) -> ChatChunk | None:
        """Read one event's JSON; return the chunk to yield, if any.

        Raises:
            ContentFilteredError: the filter cut the reply (finish_reason ``content_filter``).
            StreamInterruptedError: the provider sent an error event mid-stream.
        """
        if "error" in data:
            raise _stream_error(data["error"], self.request_id)
        if data.get("prompt_filter_results"):
            self._filters["prompt_filter_results"] = data["prompt_filter_results"]
            self._filters_pending = True
        usage = usage_of(data["usage"]) if data.get("usage") else None
        text, finish, brought_filters = "", None, False
        deltas: tuple[ToolCallDelta, ...] = ()
        choices = data.get("choices") or ()
        if choices:
            choice = choices[0]
            delta = choice.get("delta") or {}
            text = delta.get("content") or delta.get("refusal") or ""
            deltas = tuple(_tool_delta(i, d) for i, d in enumerate(delta.get("tool_calls") or ()))
            finish = choice.get("finish_reason")
            if choice.get("content_filter_results"):
                self._filters["content_filter_results"] = choice["content_filter_results"]
                self._filters_pending = brought_filters = True
            if finish == "content_filter":
                raise filtered_error(choice.get("content_filter_results"), self.request_id)
        elif usage is None:
            return None
        if not (text or deltas or finish or usage or brought_filters):
            return None
        content_filter = dict(self._filters) if self._filters_pending else None
        self._filters_pending = False
        return ChatChunk(
            text=text,
            tool_calls=deltas,
            finish_reason=finish,
            usage=usage,
            model=data.get("model") or "",
            request_id=self.request_id,
            content_filter=content_filter,
        )


def _tool_delta(position: int, delta: Mapping[str, Any]) -> ToolCallDelta:
    function = delta.get("function") or {}
    return ToolCallDelta(
        index=delta.get("index", position),
        id=delta.get("id"),
        name=function.get("name"),
        arguments=function.get("arguments") or "",
    )


def _stream_error(error: Any, request_id: str | None) -> StreamInterruptedError:
    error = error if isinstance(error, Mapping) else {"message": str(error)}
    code = error.get("code")
    return StreamInterruptedError(
        f"the provider reported an error mid-stream: {redact(str(error.get('message') or 'unknown'))}",
        code=None if code is None else str(code),
        request_id=request_id,
    )
