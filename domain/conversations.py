"""Turning what callers write into Messages, and streams back into whole replies."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .errors import ValidationError
from .models import (
    ChatChunk,
    ChatResponse,
    ContentPart,
    ImagePart,
    Message,
    TextPart,
    ToolCall,
    Usage,
)

__all__ = ["MessagesLike", "fold_stream", "to_messages"]

MessagesLike = str | Message | Mapping[str, Any] | Sequence[Message | Mapping[str, Any]]


def to_messages(prompt: MessagesLike, *, system: str | None = None) -> tuple[Message, ...]:
    """Normalise a prompt string, Message objects or OpenAI-style dicts into Messages.

    Args:
        prompt: a string (one user message), a Message, an OpenAI-style dict
            (``{"role": "user", "content": "..."}``) or a list of Messages and dicts.
        system: optional instructions put first as a system message.

    Raises:
        ValidationError: an item is not a Message or a well-formed dict.
    """
    if isinstance(prompt, str):
        items: Sequence[Message | Mapping[str, Any]] = (Message("user", prompt),)
    elif isinstance(prompt, (Message, Mapping)):
        items = (prompt,)
    else:
        items = prompt
    messages = tuple(item if isinstance(item, Message) else _from_dict(item) for item in items)
    return (Message("system", system), *messages) if system is not None else messages


def _from_dict(item: object) -> Message:
    if not isinstance(item, Mapping):
        raise ValidationError(
            f"a message must be a Message or a dict with role and content, got {type(item).__name__}"
        )
    if "role" not in item:
        raise ValidationError(f"message dict {sorted(item)} has no 'role'")
    content = item.get("content")
    if isinstance(content, list):
        content = tuple(_part_from_dict(part) for part in content)
    calls = tuple(
        ToolCall(call["id"], call["function"]["name"], call["function"].get("arguments", "{}"))
        for call in item.get("tool_calls") or ()
    )
    return Message(
        item["role"],
        content,
        name=item.get("name"),
        tool_calls=calls,
        tool_call_id=item.get("tool_call_id"),
    )


def _part_from_dict(part: object) -> ContentPart:
    if isinstance(part, (TextPart, ImagePart)):
        return part
    if isinstance(part, Mapping):
        if part.get("type") == "text":
            return TextPart(part.get("text", ""))
        if part.get("type") == "image_url":
            image = part.get("image_url") or {}
            return ImagePart(url=image.get("url"), detail=image.get("detail", "auto"))
    raise ValidationError(
        f"content part {part!r:.80} must be {{'type': 'text', ...}} or {{'type': 'image_url', ...}}"
    )


def fold_stream(chunks: Iterable[ChatChunk]) -> ChatResponse:
    """Consume a stream and return the ChatResponse it adds up to.

    Text deltas are joined, tool-call fragments are assembled by index, and the finish
    reason, usage, model, request id and filter results are taken from the chunks that carry them.
    """
    text: list[str] = []
    calls: dict[int, list[str]] = {}  # index -> [id, name, arguments]
    finish_reason: str | None = None
    usage: Usage | None = None
    model, request_id, content_filter = "", None, None
    for chunk in chunks:
        text.append(chunk.text)
        for delta in chunk.tool_calls:
            call = calls.setdefault(delta.index, ["", "", ""])
            call[0] = delta.id or call[0]
            call[1] = delta.name or call[1]
            call[2] += delta.arguments
        finish_reason = chunk.finish_reason or finish_reason
        usage = chunk.usage or usage
        model = chunk.model or model
        request_id = chunk.request_id or request_id
        content_filter = chunk.content_filter or content_filter
    tool_calls = tuple(ToolCall(*calls[index]) for index in sorted(calls))
    joined = "".join(text)
    message = Message("assistant", joined if joined or not tool_calls else None, tool_calls=tool_calls)
    return ChatResponse(
        message=message,
        finish_reason=finish_reason,
        usage=usage or Usage(),
        model=model,
        request_id=request_id,
        content_filter=content_filter,
    )
