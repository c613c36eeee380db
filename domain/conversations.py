"""Turning what callers write into Messages (and, re-exported, streams back into whole replies)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._checks import check_sequence, check_text, short
from .errors import ValidationError
from .folding import fold_stream
from .models import ContentPart, ImagePart, Message, TextPart, ToolCall

__all__ = ["MessagesLike", "fold_stream", "to_messages"]

MessagesLike = str | Message | Mapping[str, Any] | Sequence[Message | Mapping[str, Any]]


def to_messages(prompt: MessagesLike, *, system: str | None = None) -> tuple[Message, ...]:
    """Normalise a prompt string, Message objects or OpenAI-style dicts into Messages.

    Args:
        prompt: a string (one user message), a Message, an OpenAI-style dict
            (``{"role": "user", "content": "..."}``) or a list of Messages and dicts.
        system: optional instructions put first as a system message.

    Raises:
        ValidationError: an item is not a Message or a well-formed dict; the message names
            the item (``messages[2].content``) and what to write instead.
    """
    if isinstance(prompt, str):
        items: Sequence[object] = (Message("user", prompt),)
    elif isinstance(prompt, (Message, Mapping)):
        items = (prompt,)
    elif isinstance(prompt, Iterable) and not isinstance(prompt, (bytes, bytearray)):
        items = tuple(prompt)
    else:
        raise ValidationError(
            f"prompt must be a str, a Message, a message dict or a list of them, got {type(prompt).__name__}"
        )
    messages = tuple(
        item if isinstance(item, Message) else _from_dict(index, item) for index, item in enumerate(items)
    )
    if system is None:
        return messages
    check_text("system", system)
    return (Message("system", system), *messages)


def _from_dict(index: int, item: object) -> Message:
    where = f"messages[{index}]"
    if not isinstance(item, Mapping):
        raise ValidationError(
            f"{where}: a message must be a Message or a dict with role and content, got {type(item).__name__}"
        )
    if "role" not in item:
        raise ValidationError(f"{where}: message dict {_keys(item)} has no 'role'")
    try:
        content = item.get("content")
        if isinstance(content, (list, tuple)):
            content = tuple(_part_from_dict(number, part) for number, part in enumerate(content))
        calls = item.get("tool_calls")
        return Message(
            item["role"],
            content,
            name=item.get("name"),
            tool_calls=() if calls is None else _calls_from_dicts(calls),
            tool_call_id=item.get("tool_call_id"),
        )
    except ValidationError as exc:
        # Say which message: in a long conversation "Message.content must be a str" is not enough.
        raise ValidationError(f"{where}: {exc.message}") from None


def _part_from_dict(number: int, part: object) -> ContentPart:
    if isinstance(part, (TextPart, ImagePart)):
        return part
    kind = part.get("type") if isinstance(part, Mapping) else None
    if kind == "text" and isinstance(part, Mapping):
        return TextPart(part.get("text"))  # type: ignore[arg-type]  # TextPart checks it
    if kind == "image_url" and isinstance(part, Mapping):
        image = part.get("image_url")
        if not isinstance(image, Mapping) or "url" not in image:
            raise ValidationError(
                f"content[{number}].image_url must be a dict {{'url': 'https://...', 'detail': 'auto'}}, "
                f"got {short(image)}"
            )
        return ImagePart(url=image["url"], detail=image.get("detail", "auto"))
    raise ValidationError(
        f"content[{number}] must be {{'type': 'text', 'text': ...}} or "
        f"{{'type': 'image_url', 'image_url': {{'url': ...}}}}, got {short(part)}"
    )


def _calls_from_dicts(calls: object) -> tuple[ToolCall, ...]:
    result = []
    for number, call in enumerate(check_sequence("tool_calls", calls, "tool call dicts")):
        function = call.get("function") if isinstance(call, Mapping) else None
        if (
            not isinstance(call, Mapping)
            or not isinstance(function, Mapping)
            or "id" not in call
            or "name" not in function
        ):
            raise ValidationError(
                f"tool_calls[{number}] must be {{'id': ..., 'type': 'function', "
                f"'function': {{'name': ..., 'arguments': '<JSON text>'}}}}, got {short(call)}"
            )
        arguments = function.get("arguments", "{}")
        if not isinstance(arguments, str):
            raise ValidationError(
                f"tool_calls[{number}].function.arguments must be JSON text (json.dumps it), "
                f"got {type(arguments).__name__}"
            )
        result.append(ToolCall(call["id"], function["name"], arguments))
    return tuple(result)


def _keys(item: Mapping[Any, Any]) -> str:
    return short(sorted(map(str, item)))
