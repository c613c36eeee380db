"""Chat and embedding requests, validated on construction; messages and replies are re-exported."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ._checks import (
    INT32_MAX,
    check_extra,
    check_int,
    check_json,
    check_model,
    check_number,
    check_optional_text,
    check_sequence,
    check_text,
    freeze,
    is_name,
    short,
)
from .errors import ValidationError
from .messages import ROLES, ContentPart, ImagePart, Message, Role, TextPart, ToolCall
from .replies import AccessToken, ChatChunk, ChatResponse, EmbeddingResponse, ToolCallDelta, Usage

__all__ = [
    "ROLES",
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

_TOOL_CHOICES = ("auto", "none", "required")
# What OpenAI and Azure accept; beyond these the provider answers 400 after a round trip.
MAX_STOP = 4
MAX_TOOLS = 128
MAX_DIMENSIONS = 65536
_SEED_RANGE = (-(2**63), 2**63 - 1)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call; ``parameters`` is its JSON schema."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool = False

    def __post_init__(self) -> None:
        if not is_name(self.name):
            raise ValidationError(
                f"ToolSpec.name {short(self.name)} must be 1-64 characters of a-z, A-Z, 0-9, _ or -"
            )
        check_text("ToolSpec.description", self.description)
        check_json("ToolSpec.parameters", self.parameters)
        if not isinstance(self.strict, bool):
            raise ValidationError(f"ToolSpec.strict must be True or False, got {short(self.strict)}")


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """What shape the reply must take: free text, any JSON object, or a JSON schema."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    name: str | None = None
    schema: Mapping[str, Any] | None = None
    strict: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.type, str) or self.type not in ("text", "json_object", "json_schema"):
            raise ValidationError(
                f"ResponseFormat.type {short(self.type)} must be text, json_object or json_schema"
            )
        if not isinstance(self.strict, bool):
            raise ValidationError(f"ResponseFormat.strict must be True or False, got {short(self.strict)}")
        if self.type != "json_schema":
            if self.name is not None or self.schema is not None:
                raise ValidationError(
                    f"ResponseFormat.name and .schema are for json_schema only, not {self.type}; "
                    f"use ResponseFormat.json_schema(name, schema)"
                )
            return
        if self.name is None or self.schema is None:
            raise ValidationError("ResponseFormat json_schema needs a name and a schema")
        if not is_name(self.name):
            raise ValidationError(
                f"ResponseFormat.name {short(self.name)} must be 1-64 characters of a-z, A-Z, 0-9, _ or -"
            )
        check_json("ResponseFormat.schema", self.schema)

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
        messages = self.messages
        if isinstance(messages, (str, bytes, bytearray)) or not isinstance(messages, Sequence):
            raise ValidationError("ChatRequest.messages must be a sequence of Message")
        messages = tuple(messages)
        freeze(self, "messages", messages)
        if not messages:
            raise ValidationError("ChatRequest.messages is empty; send at least one message")
        for index, message in enumerate(messages):
            if not isinstance(message, Message):
                raise ValidationError(
                    f"ChatRequest.messages holds a {type(message).__name__}; build Message objects "
                    f"or pass OpenAI-style dicts to Client.chat"
                )
            for number, call in enumerate(message.tool_calls):
                if not call.id.strip() or not call.name.strip():
                    raise ValidationError(
                        f"messages[{index}].tool_calls[{number}] needs the id and name the model gave it"
                    )
        check_model("model", self.model, "chat_model", "LLMPORT_CHAT_MODEL")
        check_number("temperature", self.temperature, 0.0, 2.0)
        check_number("top_p", self.top_p, 0.0, 1.0)
        if self.max_tokens is not None and (
            isinstance(self.max_tokens, bool)
            or not isinstance(self.max_tokens, int)
            or not 0 < self.max_tokens <= INT32_MAX
        ):
            raise ValidationError(
                f"max_tokens must be a positive int up to {INT32_MAX}, got {short(self.max_tokens)}"
            )
        freeze(self, "stop", _stop(self.stop))
        check_int("seed", self.seed, *_SEED_RANGE)
        freeze(self, "tools", _tools(self.tools))
        _check_tool_choice(self.tool_choice, self.tools)
        if self.response_format is not None and not isinstance(self.response_format, ResponseFormat):
            raise ValidationError(
                f"response_format must be a ResponseFormat (ResponseFormat.json() or "
                f"ResponseFormat.json_schema(name, schema)), got {short(self.response_format)}"
            )
        check_optional_text("user", self.user, blank="pass an end-user id or leave user unset")
        freeze(self, "extra", check_extra(self.extra, response_format_set=self.response_format is not None))


def _stop(stop: object) -> tuple[str, ...] | None:
    if stop is None:
        return None
    stops = (stop,) if isinstance(stop, str) else check_sequence("stop", stop, "str")
    if len(stops) > MAX_STOP:
        raise ValidationError(f"stop holds {len(stops)} sequences; providers take at most {MAX_STOP}")
    for index, sequence in enumerate(stops):
        check_text(f"stop[{index}]", sequence)
        if not sequence:
            raise ValidationError(f"stop[{index}] is an empty string; remove it")
    return stops or None  # no stop sequences is no stop: [] would be sent as is and refused


def _tools(tools: object) -> tuple[ToolSpec, ...]:
    if tools is None or tools == ():  # None: the usual spelling of "no tools" in keyword arguments
        return ()
    frozen = check_sequence("tools", tools, "ToolSpec")
    if len(frozen) > MAX_TOOLS:
        raise ValidationError(f"tools holds {len(frozen)} tools; providers take at most {MAX_TOOLS}")
    names: set[str] = set()
    for tool in frozen:
        if not isinstance(tool, ToolSpec):
            raise ValidationError(f"tools must be ToolSpec objects, got {type(tool).__name__}")
        if tool.name in names:
            raise ValidationError(f"tools has two tools named {tool.name!r}; tool names must be unique")
        names.add(tool.name)
    return frozen


def _check_tool_choice(choice: object, tools: tuple[ToolSpec, ...]) -> None:
    if choice is None:
        return
    if not isinstance(choice, str):
        raise ValidationError(
            f"tool_choice must be auto, none, required or a tool's name, got {short(choice)}"
        )
    if not tools:
        raise ValidationError(
            f"tool_choice {short(choice)} needs tools; pass tools=[ToolSpec(...)] or leave tool_choice unset"
        )
    if choice not in _TOOL_CHOICES and all(tool.name != choice for tool in tools):
        raise ValidationError(f"tool_choice {short(choice)} must be auto, none, required or a tool's name")


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    """Texts to embed, in order; ``dimensions`` shortens vectors on models that allow it."""

    inputs: tuple[str, ...]
    model: str | None = None
    dimensions: int | None = None
    user: str | None = None

    def __post_init__(self) -> None:
        inputs = self.inputs
        if isinstance(inputs, (str, bytes, bytearray)) or not isinstance(inputs, Sequence):
            raise ValidationError("EmbeddingRequest.inputs must be a list of str")
        inputs = tuple(inputs)
        freeze(self, "inputs", inputs)
        if not inputs:
            raise ValidationError("EmbeddingRequest.inputs is empty; pass at least one text")
        for index, text in enumerate(inputs):
            if not isinstance(text, str):
                raise ValidationError(
                    f"embedding input {index} is a {type(text).__name__}; every input must be a str"
                )
            if not text:
                raise ValidationError(
                    f"embedding input {index} is an empty string; providers reject empty inputs"
                )
            if not text.isascii():
                check_text(f"embedding input {index}", text)
        check_model("model", self.model, "embedding_model", "LLMPORT_EMBEDDING_MODEL")
        if self.dimensions is not None and (
            isinstance(self.dimensions, bool)
            or not isinstance(self.dimensions, int)
            or not 0 < self.dimensions <= MAX_DIMENSIONS
        ):
            raise ValidationError(
                f"dimensions must be an int >= 1 and <= {MAX_DIMENSIONS}, got {short(self.dimensions)}"
            )
        check_optional_text("user", self.user, blank="pass an end-user id or leave user unset")
