"""What comes back: whole chat replies, streamed chunks, embeddings, token counts and access tokens."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .messages import Message, ToolCall

__all__ = ["AccessToken", "ChatChunk", "ChatResponse", "EmbeddingResponse", "ToolCallDelta", "Usage"]


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of a tool call in a stream; fragments with the same index concatenate."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one call, or summed over several."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
            self.cached_tokens + other.cached_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )


@dataclass(frozen=True, slots=True)
class ChatResponse:
    """A finished chat reply. ``content_filter`` holds Azure's filter results, when sent."""

    message: Message
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    request_id: str | None = None
    content_filter: Mapping[str, Any] | None = None

    @property
    def text(self) -> str:
        """The reply's text ("" when the model only called tools)."""
        return self.message.text

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        """The tool calls the model asked for, in order."""
        return self.message.tool_calls


@dataclass(frozen=True, slots=True)
class ChatChunk:
    """One streamed delta; the last chunk carries ``finish_reason`` and, when sent, ``usage``."""

    text: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = ()
    finish_reason: str | None = None
    usage: Usage | None = None
    model: str = ""
    request_id: str | None = None
    content_filter: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class EmbeddingResponse:
    """One vector per input, in input order."""

    vectors: Sequence[Sequence[float]]
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A bearer token and when it expires (seconds since the epoch). Its repr hides the token."""

    token: str = field(repr=False)
    expires_on: float
