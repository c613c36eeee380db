"""Message content in the shape of the OpenTelemetry GenAI conventions, for traces that opt in.

Only built when the user asked for content (``CallSpan.capture_content``): prompts and replies may
be personal data. Standard library only; the attribute names themselves live in the adapter.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from .messages import Message

__all__ = ["input_messages_json", "output_messages_json"]


def _parts(message: Message) -> list[dict[str, object]]:
    parts: list[dict[str, object]] = []
    for call in message.tool_calls:
        parts.append({"type": "tool_call", "id": call.id, "name": call.name, "arguments": call.arguments})
    if message.role == "tool":
        parts.append({"type": "tool_call_response", "id": message.tool_call_id, "response": message.text})
    elif message.text:
        parts.append({"type": "text", "content": message.text})
    return parts


def input_messages_json(messages: Iterable[Message]) -> str:
    """``gen_ai.input.messages``: ``[{"role": ..., "parts": [{"type": "text", "content": ...}]}]``."""
    return json.dumps([{"role": m.role, "parts": _parts(m)} for m in messages], ensure_ascii=False)


def output_messages_json(replies: Sequence[tuple[Message, str | None]]) -> str:
    """``gen_ai.output.messages``: one entry per choice, each with its finish reason."""
    return json.dumps(
        [
            {"role": message.role, "parts": _parts(message), "finish_reason": reason or "error"}
            for message, reason in replies
        ],
        ensure_ascii=False,
    )
