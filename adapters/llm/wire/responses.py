"""Domain <-> wire JSON for the Responses API: the same domain models, another request shape."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ....domain.errors import ProviderError, ValidationError
from ....domain.models import ChatRequest, ChatResponse, ImagePart, Message, ToolCall, ToolSpec, Usage
from ....domain.responses_items import (
    FunctionCallItem,
    OutputMessage,
    OutputRefusal,
    OutputText,
    ReasoningItem,
)
from .chat import filtered_error, logprobs_of, structured
from .errors import redact
from .responses_items import items_of

__all__ = ["finish_reason_of", "parse_response", "responses_body", "usage_of_response"]

# Responses statuses and incomplete reasons, in chat.completions' finish_reason vocabulary,
# so that callers see one domain whichever API the adapter speaks.
_FINISH = {"max_output_tokens": "length", "content_filter": "content_filter"}
# chat.completions options the Responses API has no field for: refused before sending.
_CHAT_ONLY = ("stop", "seed", "n")


def responses_body(request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
    """Build a ``POST /responses`` body.

    ``instructions=`` is sent as ``instructions``; without it, leading system messages become
    ``instructions`` and later ones stay system input items. Developer messages stay input items.

    Raises:
        ValidationError: ``stop``, ``seed`` or ``n`` is set: the Responses API has none of them,
            and dropping them silently would change the reply.
    """
    for name in _CHAT_ONLY:
        if getattr(request, name) is not None:
            raise ValidationError(f"{name} is not supported by the Responses API; unset it or use api='chat'")
    messages = list(request.messages)
    instructions: list[str] = []
    if request.instructions is not None:
        instructions.append(request.instructions)
    else:
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
    _options(request, body)
    body.update(request.extra)
    return body


def _options(request: ChatRequest, body: dict[str, Any]) -> None:
    """State, storage, reasoning and logprobs, each only when set."""
    for name in ("previous_response_id", "store", "parallel_tool_calls", "top_logprobs", "prompt_cache_key"):
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    if request.logprobs:
        body["include"] = ["message.output_text.logprobs"]
    reasoning = request.reasoning
    if reasoning is not None and (reasoning.effort or reasoning.summary):
        body["reasoning"] = {
            key: value
            for key, value in (("effort", reasoning.effort), ("summary", reasoning.summary))
            if value
        }


def _tooling(request: ChatRequest) -> dict[str, Any]:
    """The tools (functions and built-in ones, side by side), tool_choice and text.format fields."""
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
            if isinstance(t, ToolSpec)
            else t.to_wire()
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


def usage_of_response(data: Mapping[str, Any] | None) -> Usage:
    """Read the Responses API's usage (input/output tokens) into the domain's Usage."""
    if not data:
        return Usage()
    return Usage(
        prompt_tokens=data.get("input_tokens") or 0,
        completion_tokens=data.get("output_tokens") or 0,
        total_tokens=data.get("total_tokens") or 0,
        cached_tokens=(data.get("input_tokens_details") or {}).get("cached_tokens") or 0,
        reasoning_tokens=(data.get("output_tokens_details") or {}).get("reasoning_tokens") or 0,
    )


def finish_reason_of(data: Mapping[str, Any], has_calls: bool, request_id: str | None) -> str | None:
    """A response's status in chat.completions' finish_reason words.

    Raises:
        ProviderError: the response failed.
        ContentFilteredError: the content filter cut it.
    """
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


def parse_response(
    data: Mapping[str, Any],
    request_id: str | None,
    *,
    apim_request_id: str | None = None,
    parser: Callable[[str], Any] | None = None,
) -> ChatResponse:
    """Read a ``response`` JSON body into a ChatResponse; ``data`` is kept as ``raw``, uncopied.

    ``text`` is what the SDK calls ``output_text``: the output_text parts of every message item;
    a refusal goes to ``refusal``, reasoning summaries to ``reasoning_content``, and every item
    to ``output``.

    Raises:
        ContentFilteredError: the response is incomplete because of the content filter.
        ProviderError: the response's status is ``failed``.
    """
    output = items_of(data.get("output") or ())
    texts: list[str] = []
    refusals: list[str] = []
    calls: list[ToolCall] = []
    summaries: list[str] = []
    for item in output:
        if isinstance(item, OutputMessage):
            for part in item.content:
                if isinstance(part, OutputText):
                    texts.append(part.text)
                elif isinstance(part, OutputRefusal):
                    refusals.append(part.refusal)
        elif isinstance(item, FunctionCallItem):
            calls.append(ToolCall(item.call_id, item.name, item.arguments))
        elif isinstance(item, ReasoningItem):
            summaries.extend(item.summary)
    finish = finish_reason_of(data, bool(calls), request_id)
    text = "".join(texts)
    refusal = "".join(refusals) or None
    return ChatResponse(
        message=Message("assistant", text if text or not calls else None, tool_calls=tuple(calls)),
        finish_reason=finish,
        usage=usage_of_response(data.get("usage")),
        model=data.get("model") or "",
        request_id=request_id,
        id=data.get("id"),
        created=data.get("created_at"),
        service_tier=data.get("service_tier"),
        refusal=refusal,
        reasoning_content="\n\n".join(summaries) if summaries else None,
        logprobs=_logprobs(data.get("output") or ()),
        output=output,
        parsed=structured(parser, text, refusal, finish),
        apim_request_id=apim_request_id,
        raw=data,
    )


def _logprobs(output: Any) -> Any:
    # Sent only when asked for (include=["message.output_text.logprobs"]).
    tokens = [
        token
        for item in output
        if item.get("type") == "message"
        for part in item.get("content") or ()
        for token in part.get("logprobs") or ()
    ]
    return logprobs_of(tokens) if tokens else None
