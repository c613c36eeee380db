"""Requests and responses for chat and embeddings: frozen, slotted, validated on construction."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import ValidationError

__all__ = [
    "AccessToken",
    "ChatChunk",
    "ChatRequest",
    "ChatResponse",
    "ContentPart",
    "EmbeddingRequest",
    "EmbeddingResponse",
    "ImagePart",
    "Message",
    "ResponseFormat",
    "Role",
    "TextPart",
    "ToolCall",
    "ToolCallDelta",
    "ToolSpec",
    "Usage",
]

Role = Literal["system", "user", "assistant", "tool"]
ROLES: frozenset[str] = frozenset(("system", "user", "assistant", "tool"))
_IMAGE_URL_SCHEMES = ("https://", "http://", "data:image/")


def _freeze(instance: object, name: str, value: object) -> None:
    # Frozen dataclasses refuse attribute assignment; normalising inputs in
    # __post_init__ (list -> tuple) is the documented way around that.
    object.__setattr__(instance, name, value)


@dataclass(frozen=True, slots=True)
class TextPart:
    """A text segment of a message's content."""

    text: str

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise ValidationError(f"TextPart.text must be a str, got {type(self.text).__name__}")


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image in a message: a URL (https or data:) or raw bytes with their media type."""

    url: str | None = None
    data: bytes | None = field(default=None, repr=False)
    media_type: str = "image/png"
    detail: Literal["auto", "low", "high"] = "auto"

    def __post_init__(self) -> None:
        if (self.url is None) == (self.data is None):
            raise ValidationError("ImagePart needs exactly one of url= or data=")
        if self.url is not None and (
            not isinstance(self.url, str) or not self.url.startswith(_IMAGE_URL_SCHEMES)
        ):
            raise ValidationError(
                f"ImagePart.url must start with https://, http:// or data:image/, got {self.url!r:.60}"
            )
        if self.data is not None and not isinstance(self.data, bytes):
            raise ValidationError("ImagePart.data must be bytes; pass url= for a link")
        if self.detail not in ("auto", "low", "high"):
            raise ValidationError(f"ImagePart.detail must be auto, low or high, got {self.detail!r}")

    def as_url(self) -> str:
        """Return the image as a URL, encoding bytes as a base64 ``data:`` URL."""
        if self.url is not None:
            return self.url
        assert self.data is not None  # guaranteed by __post_init__
        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode('ascii')}"


ContentPart = TextPart | ImagePart


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model asks the application to make; ``arguments`` is the raw JSON text."""

    id: str
    name: str
    arguments: str = "{}"


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of a tool call in a stream; fragments with the same index concatenate."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class Message:
    """One turn of a conversation.

    ``content`` is a string or a sequence of TextPart / ImagePart; assistant turns may carry
    ``tool_calls`` instead of content, and tool turns answer one ``tool_call_id``.
    """

    role: Role
    content: str | tuple[ContentPart, ...] | None = None
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.role, str) or self.role not in ROLES:
            raise ValidationError(
                f"Message.role {self.role!r} is unknown; use one of system, user, assistant, tool"
            )
        if isinstance(self.content, Sequence) and not isinstance(self.content, str):
            _freeze(self, "content", tuple(self.content))
            for part in self.content:
                if not isinstance(part, (TextPart, ImagePart)):
                    raise ValidationError(
                        f"Message content parts must be TextPart or ImagePart, got {type(part).__name__}"
                    )
        elif self.content is not None and not isinstance(self.content, str):
            raise ValidationError(
                f"Message.content must be a str or a list of parts, got {type(self.content).__name__}"
            )
        _freeze(self, "tool_calls", tuple(self.tool_calls))
        if self.content is None and not (self.role == "assistant" and self.tool_calls):
            raise ValidationError(f"a {self.role} message needs content")
        if self.role == "tool" and not self.tool_call_id:
            raise ValidationError("a tool message needs tool_call_id: the id of the call it answers")

    @property
    def text(self) -> str:
        """The message's text: the content string, or its text parts joined."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content if isinstance(part, TextPart))

    @classmethod
    def system(cls, text: str) -> Message:
        """A system (instructions) message."""
        return cls("system", text)

    @classmethod
    def user(cls, content: str | Sequence[ContentPart]) -> Message:
        """A user message: text, or text and image parts."""
        return cls("user", content if isinstance(content, str) else tuple(content))

    @classmethod
    def assistant(cls, text: str | None = None, tool_calls: Sequence[ToolCall] = ()) -> Message:
        """An assistant message: a previous reply, or the tool calls it asked for."""
        return cls("assistant", text, tool_calls=tuple(tool_calls))

    @classmethod
    def tool(cls, tool_call_id: str, content: str) -> Message:
        """The result of a tool call, answering ``tool_call_id``."""
        return cls("tool", content, tool_call_id=tool_call_id)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call; ``parameters`` is its JSON schema."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool = False

    def __post_init__(self) -> None:
        name = self.name
        if not (isinstance(name, str) and 0 < len(name) <= 64) or not all(
            ch.isascii() and (ch.isalnum() or ch in "_-") for ch in name
        ):
            raise ValidationError(f"ToolSpec.name {name!r} must be 1-64 characters of a-z, A-Z, 0-9, _ or -")


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """What shape the reply must take: free text, any JSON object, or a JSON schema."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    name: str | None = None
    schema: Mapping[str, Any] | None = None
    strict: bool = True

    def __post_init__(self) -> None:
        if self.type not in ("text", "json_object", "json_schema"):
            raise ValidationError(
                f"ResponseFormat.type {self.type!r} must be text, json_object or json_schema"
            )
        if self.type == "json_schema" and (not self.name or self.schema is None):
            raise ValidationError("ResponseFormat json_schema needs a name and a schema")

    @classmethod
    def json(cls) -> ResponseFormat:
        """Any JSON object (JSON mode)."""
        return cls("json_object")

    @classmethod
    def json_schema(cls, name: str, schema: Mapping[str, Any], strict: bool = True) -> ResponseFormat:
        """Structured output matching ``schema``."""
        return cls("json_schema", name=name, schema=schema, strict=strict)


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """Everything one chat call sends; ``model`` may be left to the client's configured model.

    ``extra`` passes provider options llmport does not model straight into the request body.
    """

    messages: tuple[Message, ...]
    model: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] | None = None
    seed: int | None = None
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str | None = None
    response_format: ResponseFormat | None = None
    user: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.messages, (str, bytes)) or not isinstance(self.messages, Sequence):
            raise ValidationError("ChatRequest.messages must be a sequence of Message")
        _freeze(self, "messages", tuple(self.messages))
        if not self.messages:
            raise ValidationError("ChatRequest.messages is empty; send at least one message")
        for message in self.messages:
            if not isinstance(message, Message):
                raise ValidationError(
                    f"ChatRequest.messages holds a {type(message).__name__}; build Message objects "
                    f"or pass OpenAI-style dicts to Client.chat"
                )
        _freeze(self, "tools", tuple(self.tools))
        if isinstance(self.stop, str):
            _freeze(self, "stop", (self.stop,))
        elif self.stop is not None:
            _freeze(self, "stop", tuple(self.stop))
        _check_range("temperature", self.temperature, 0.0, 2.0)
        _check_range("top_p", self.top_p, 0.0, 1.0)
        if self.max_tokens is not None and (not isinstance(self.max_tokens, int) or self.max_tokens < 1):
            raise ValidationError(f"max_tokens must be a positive int, got {self.max_tokens!r}")
        names = {tool.name for tool in self.tools}
        if self.tool_choice not in (None, "auto", "none", "required") and (
            not isinstance(self.tool_choice, str) or self.tool_choice not in names
        ):
            raise ValidationError(
                f"tool_choice {self.tool_choice!r} must be auto, none, required or a tool's name"
            )


def _check_range(name: str, value: float | None, low: float, high: float) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValidationError(f"{name} must be a number from {low} to {high}, got {value!r}")


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
class EmbeddingRequest:
    """Texts to embed, in order; ``dimensions`` shortens vectors on models that allow it."""

    inputs: tuple[str, ...]
    model: str | None = None
    dimensions: int | None = None
    user: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.inputs, (str, bytes)) or not isinstance(self.inputs, Sequence):
            raise ValidationError("EmbeddingRequest.inputs must be a list of str")
        _freeze(self, "inputs", tuple(self.inputs))
        if not self.inputs:
            raise ValidationError("EmbeddingRequest.inputs is empty; pass at least one text")
        for index, text in enumerate(self.inputs):
            if not isinstance(text, str):
                raise ValidationError(
                    f"embedding input {index} is a {type(text).__name__}; every input must be a str"
                )
            if not text:
                raise ValidationError(
                    f"embedding input {index} is an empty string; providers reject empty inputs"
                )
        if self.dimensions is not None and (
            isinstance(self.dimensions, bool) or not isinstance(self.dimensions, int) or self.dimensions < 1
        ):
            raise ValidationError(f"dimensions must be an int >= 1, got {self.dimensions!r}")


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
