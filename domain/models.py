"""Chat and embedding requests, validated on construction; messages and replies are re-exported."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ._checks import (
    INT32_MAX,
    check_extra,
    check_int,
    check_model,
    check_number,
    check_optional_text,
    check_sequence,
    check_text,
    freeze,
    short,
)
from .errors import ValidationError
from .messages import ROLES, ContentPart, ImagePart, Message, Role, TextPart, ToolCall
from .options import Reasoning, ResponseFormat
from .replies import (
    AccessToken,
    ChatChunk,
    ChatResponse,
    Choice,
    EmbeddingResponse,
    TokenLogprob,
    ToolCallDelta,
    TopLogprob,
    Usage,
)
from .tools import (
    BuiltinTool,
    CodeInterpreterTool,
    FileSearchTool,
    HostedTool,
    McpTool,
    Tool,
    ToolSpec,
    WebSearchTool,
    tool_from_dict,
)

__all__ = [
    "ROLES",
    "AccessToken",
    "Api",
    "BuiltinTool",
    "ChatChunk",
    "ChatRequest",
    "ChatResponse",
    "Choice",
    "CodeInterpreterTool",
    "ContentPart",
    "EmbeddingRequest",
    "EmbeddingResponse",
    "FileSearchTool",
    "HostedTool",
    "ImagePart",
    "McpTool",
    "Message",
    "Reasoning",
    "ResponseFormat",
    "Role",
    "TextPart",
    "TokenLogprob",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolSpec",
    "TopLogprob",
    "Usage",
    "WebSearchTool",
]

Api = Literal["chat", "responses"]

_TOOL_CHOICES = ("auto", "none", "required")
# Options that used to go through `extra`: still accepted there, but not beside their typed field.
_TYPED_EXTRA = {
    "n": "n",
    "logprobs": "logprobs",
    "top_logprobs": "top_logprobs",
    "parallel_tool_calls": "parallel_tool_calls",
    "reasoning": "reasoning",
    "reasoning_effort": "reasoning",
    "previous_response_id": "previous_response_id",
    "store": "store",
    "prompt_cache_key": "prompt_cache_key",
}
# What OpenAI and Azure accept; beyond these the provider answers 400 after a round trip.
MAX_STOP = 4
MAX_TOOLS = 128
MAX_DIMENSIONS = 65536
_SEED_RANGE = (-(2**63), 2**63 - 1)


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """Everything one chat call sends; ``model`` may be left to the client's configured model.

    ``extra`` passes provider options llmport does not model straight into the request body.
    ``api`` picks chat.completions or the Responses API for this call (None: the client's).
    ``n``, ``logprobs`` and ``top_logprobs`` are chat.completions options; ``instructions``,
    ``previous_response_id``, ``store``, built-in tools and ``Reasoning.summary`` are the
    Responses API's; the adapter refuses an option its API lacks before sending anything.
    ``prompt_cache_key`` groups requests that share a long prefix on the provider's prompt cache
    (both APIs).
    """

    messages: tuple[Message, ...]
    model: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] | None = None
    seed: int | None = None
    tools: tuple[Tool, ...] = ()
    tool_choice: str | None = None
    response_format: ResponseFormat | None = None
    user: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    api: Api | None = None
    n: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    parallel_tool_calls: bool | None = None
    reasoning: Reasoning | None = None
    instructions: str | None = None
    previous_response_id: str | None = None
    store: bool | None = None
    prompt_cache_key: str | None = None

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
        _check_options(self)


def _check_options(request: ChatRequest) -> None:
    """The options beyond the basics: which API, choices, logprobs, reasoning, Responses state."""
    if request.api is not None and request.api not in ("chat", "responses"):
        raise ValidationError(f"api must be 'chat' or 'responses', got {short(request.api)}")
    check_int("n", request.n, 1, 128)
    check_int("top_logprobs", request.top_logprobs, 0, 20)
    for name in ("logprobs", "parallel_tool_calls", "store"):
        value = getattr(request, name)
        if value is not None and not isinstance(value, bool):
            raise ValidationError(f"{name} must be True, False or None, got {short(value)}")
    if request.reasoning is not None and not isinstance(request.reasoning, Reasoning):
        raise ValidationError(
            f"reasoning must be a Reasoning(effort=..., summary=...), got {short(request.reasoning)}"
        )
    check_optional_text("instructions", request.instructions)
    check_optional_text(
        "previous_response_id", request.previous_response_id, blank="pass the id of a previous reply"
    )
    _check_prompt_cache_key(request.prompt_cache_key)
    for key in request.extra:
        typed = _TYPED_EXTRA.get(key)
        if typed is not None and getattr(request, typed) is not None:
            raise ValidationError(f"extra[{key!r}] and {typed}= both set; keep {typed}= only")


def _check_prompt_cache_key(key: object) -> None:
    if key is None:
        return
    check_text("prompt_cache_key", key, blank="pass a stable key such as a tenant or prompt name")
    assert isinstance(key, str)  # checked just above
    if any(ord(char) < 32 or 127 <= ord(char) < 160 for char in key):  # C0, DEL and C1 controls
        raise ValidationError(f"prompt_cache_key {short(key)} holds a control character; remove it")


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


_TOOL_TYPES = (ToolSpec, McpTool, WebSearchTool, FileSearchTool, CodeInterpreterTool, HostedTool)


def _tools(tools: object) -> tuple[Tool, ...]:
    if tools is None or tools == ():  # None: the usual spelling of "no tools" in keyword arguments
        return ()
    given = check_sequence("tools", tools, "ToolSpec")
    if len(given) > MAX_TOOLS:
        raise ValidationError(f"tools holds {len(given)} tools; providers take at most {MAX_TOOLS}")
    frozen = tuple(
        _tool_from_dict(i, tool) if isinstance(tool, Mapping) else tool for i, tool in enumerate(given)
    )
    names: set[str] = set()
    for tool in frozen:
        if not isinstance(tool, _TOOL_TYPES):
            raise ValidationError(
                f"tools must be ToolSpec, McpTool, WebSearchTool, FileSearchTool, CodeInterpreterTool "
                f"or OpenAI tool dicts, got {type(tool).__name__}"
            )
        if not isinstance(tool, ToolSpec):
            continue
        if tool.name in names:
            raise ValidationError(f"tools has two tools named {tool.name!r}; tool names must be unique")
        names.add(tool.name)
    return frozen


def _tool_from_dict(index: int, spec: Mapping[str, Any]) -> Tool:
    try:
        return tool_from_dict(spec)
    except ValidationError as exc:
        raise ValidationError(f"tools[{index}]: {exc.message}") from None


def _check_tool_choice(choice: object, tools: tuple[Tool, ...]) -> None:
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
    if choice not in _TOOL_CHOICES and all(getattr(tool, "name", None) != choice for tool in tools):
        raise ValidationError(f"tool_choice {short(choice)} must be auto, none, required or a tool's name")


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    """Texts to embed, in order; ``dimensions`` shortens vectors on models that allow it.

    ``truncate`` cuts an input longer than the model's per-input limit at a token boundary
    instead of refusing it (llmport's own option: never sent).
    """

    inputs: tuple[str, ...]
    model: str | None = None
    dimensions: int | None = None
    user: str | None = None
    truncate: bool = False

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
        if not isinstance(self.truncate, bool):
            raise ValidationError(f"truncate must be True or False, got {short(self.truncate)}")
