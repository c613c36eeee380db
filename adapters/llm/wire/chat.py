"""Domain <-> wire JSON for chat.completions, built and read as plain dicts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ....domain.errors import ContentFilteredError, StreamInterruptedError, ValidationError
from ....domain.folding import structured_output as structured
from ....domain.models import (
    ChatRequest,
    ChatResponse,
    Choice,
    ImagePart,
    Message,
    ResponseFormat,
    TokenLogprob,
    Tool,
    ToolCall,
    ToolSpec,
    TopLogprob,
    Usage,
)
from .errors import redact

__all__ = [
    "chat_body",
    "filtered_error",
    "logprobs_of",
    "parse_chat",
    "stream_error",
    "structured",
    "usage_of",
]

# Responses API options that chat.completions has no field for: refused before sending.
_RESPONSES_ONLY = ("previous_response_id",)

# The SDK's typed-dict transform of the request costs more than the HTTP round trip on a
# loopback; building the wire JSON here and posting it as-is skips it (see the adapters' docs).


def chat_body(request: ChatRequest, model: str, *, stream: bool, max_tokens_field: str) -> dict[str, Any]:
    """Build the chat.completions request body.

    Args:
        request: the domain request.
        model: the model, or the deployment name on Azure.
        stream: ask for server-sent events, with usage in the last one.
        max_tokens_field: ``max_completion_tokens`` (OpenAI, Azure) or ``max_tokens`` (old Azure,
            OpenAI-compatible servers).

    Raises:
        ValidationError: an option only the Responses API has (built-in tools,
            ``previous_response_id``, a reasoning summary): dropping it would change the reply.
    """
    messages = [_message(m) for m in request.messages]
    if request.instructions is not None:
        messages.insert(0, {"role": "system", "content": request.instructions})
    body: dict[str, Any] = {"model": model, "messages": messages}
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
        body["tools"] = [_tool(tool) for tool in request.tools]
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
    _options(request, body)
    body.update(request.extra)
    return body


def _options(request: ChatRequest, body: dict[str, Any]) -> None:
    """The less common options, each only when set."""
    for name in _RESPONSES_ONLY:
        if getattr(request, name) is not None:
            raise ValidationError(f"{name} is a Responses API option; pass api='responses' or unset it")
    for name in ("n", "logprobs", "top_logprobs", "parallel_tool_calls", "store", "prompt_cache_key"):
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    if request.reasoning is not None:
        if request.reasoning.summary is not None:
            raise ValidationError("Reasoning.summary needs the Responses API; pass api='responses'")
        if request.reasoning.effort is not None:
            body["reasoning_effort"] = request.reasoning.effort


def _tool(tool: Tool) -> dict[str, Any]:
    if not isinstance(tool, ToolSpec):
        kind = tool.to_wire()["type"]
        raise ValidationError(
            f"the built-in tool {kind!r} needs the Responses API; pass api='responses' (chat.completions "
            f"takes function tools only)"
        )
    return {
        "type": "function",
        "function": _function(tool.name, tool.description, tool.parameters, tool.strict),
    }


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


def parse_chat(
    data: Mapping[str, Any],
    request_id: str | None,
    *,
    apim_request_id: str | None = None,
    parser: Callable[[str], Any] | None = None,
) -> ChatResponse:
    """Read a chat.completion JSON body into a ChatResponse; ``data`` is kept as ``raw``, uncopied.

    Args:
        data: the reply's JSON.
        request_id: x-request-id (or apim-request-id when only that came).
        apim_request_id: Azure API Management's request id, when sent.
        parser: the structured-output parser; its result becomes ``parsed``.

    Raises:
        ContentFilteredError: a 200 whose finish_reason is ``content_filter``: the reply was
            withheld, and a partial answer must not pass for a whole one.
    """
    wire_choices = data["choices"]
    choice = wire_choices[0]
    first = _choice(choice)
    filters: dict[str, Any] = {}
    if data.get("prompt_filter_results"):
        filters["prompt_filter_results"] = data["prompt_filter_results"]
    if choice.get("content_filter_results"):
        filters["content_filter_results"] = choice["content_filter_results"]
    if first.finish_reason == "content_filter":
        raise filtered_error(choice.get("content_filter_results"), request_id)
    return ChatResponse(
        message=first.message,
        finish_reason=first.finish_reason,
        usage=usage_of(data.get("usage")),
        model=data.get("model") or "",
        request_id=request_id,
        content_filter=filters or None,
        id=data.get("id"),
        created=data.get("created"),
        system_fingerprint=data.get("system_fingerprint"),
        service_tier=data.get("service_tier"),
        refusal=first.refusal,
        reasoning_content=first.reasoning_content,
        logprobs=first.logprobs,
        choices=(first, *map(_choice, wire_choices[1:])) if len(wire_choices) > 1 else (first,),
        parsed=structured(parser, first.message.text, first.refusal, first.finish_reason),
        apim_request_id=apim_request_id,
        raw=data,
    )


def _choice(choice: Mapping[str, Any]) -> Choice:
    message = choice["message"]
    calls = tuple(
        ToolCall(c["id"], c["function"]["name"], c["function"].get("arguments") or "{}")
        for c in message.get("tool_calls") or ()
    )
    text = message.get("content")
    reasoning = message.get("reasoning_content")
    logprobs = choice.get("logprobs")
    return Choice(
        index=choice.get("index") or 0,
        message=Message("assistant", text if text is not None or calls else "", tool_calls=calls),
        finish_reason=choice.get("finish_reason"),
        logprobs=logprobs_of(logprobs.get("content")) if logprobs else None,
        refusal=message.get("refusal") or None,
        reasoning_content=reasoning if isinstance(reasoning, str) else None,
    )


def logprobs_of(tokens: Any) -> tuple[TokenLogprob, ...] | None:
    """Read OpenAI's token logprobs list (chat's ``logprobs.content``, Responses' ``logprobs``)."""
    if tokens is None:
        return None
    return tuple(
        TokenLogprob(
            t["token"],
            float(t["logprob"]),
            None if t.get("bytes") is None else tuple(t["bytes"]),
            tuple(
                TopLogprob(
                    o["token"], float(o["logprob"]), None if o.get("bytes") is None else tuple(o["bytes"])
                )
                for o in t.get("top_logprobs") or ()
            ),
        )
        for t in tokens
    )


def stream_error(error: Any, request_id: str | None) -> StreamInterruptedError:
    error = error if isinstance(error, Mapping) else {"message": str(error)}
    code = error.get("code")
    return StreamInterruptedError(
        f"the provider reported an error mid-stream: {redact(str(error.get('message') or 'unknown'))}",
        code=None if code is None else str(code),
        request_id=request_id,
    )
