"""What comes back: whole chat replies, streamed chunks, embeddings, token counts and access tokens."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ._checks import freeze
from .messages import Message, ToolCall
from .responses_items import OutputItem, StreamEvent

if TYPE_CHECKING:
    from .budget import RateHint

__all__ = [
    "AccessToken",
    "ChatChunk",
    "ChatResponse",
    "Choice",
    "Cost",
    "EmbeddingResponse",
    "TokenLogprob",
    "ToolCallDelta",
    "TopLogprob",
    "Usage",
    "served_by",
]


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
class Cost:
    """A call's estimated cost from your price table, in its currency (llmport names none).

    ``input`` is for the prompt tokens not read from the cache, ``cached_input`` for those that
    were, ``output`` for the completion tokens (reasoning tokens included, as they are billed);
    ``model`` is the price-table entry used (see the README's "Usage and cost" for the rule).
    """

    input: float
    cached_input: float
    output: float
    model: str
    total: float = field(init=False)

    def __post_init__(self) -> None:
        freeze(self, "total", self.input + self.cached_input + self.output)


@dataclass(frozen=True, slots=True)
class TopLogprob:
    """One of the likeliest tokens at a position, with its log probability."""

    token: str
    logprob: float
    bytes: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """A token of the reply, its log probability, and the likeliest alternatives (``top_logprobs``)."""

    token: str
    logprob: float
    bytes: tuple[int, ...] | None = None
    top_logprobs: tuple[TopLogprob, ...] = ()


@dataclass(frozen=True, slots=True)
class Choice:
    """One of the ``n`` replies chat.completions generated for one request."""

    index: int
    message: Message
    finish_reason: str | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None
    refusal: str | None = None
    reasoning_content: str | None = None

    @property
    def text(self) -> str:
        """The choice's text ("" when the model only called tools or refused)."""
        return self.message.text


@dataclass(frozen=True, slots=True)
class ChatResponse:
    """A finished chat reply, from chat.completions or the Responses API.

    ``text`` is the answer (on the Responses API, what the SDK calls ``output_text``); a refusal
    is in ``refusal``, never in ``text``. ``choices`` holds every choice (``n`` > 1), the first
    being the one ``message`` describes. ``output`` holds the Responses API's items (MCP calls,
    reasoning, citations...). ``parsed`` is the structured output as an instance of the type
    passed as ``response_format``. ``raw`` is the reply's JSON as received, for anything else.
    ``content_filter`` holds Azure's filter results, when sent.
    """

    message: Message
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    request_id: str | None = None
    content_filter: Mapping[str, Any] | None = None
    id: str | None = None
    created: int | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None
    refusal: str | None = None
    reasoning_content: str | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None
    choices: tuple[Choice, ...] = ()
    output: tuple[OutputItem, ...] = ()
    parsed: Any = None
    apim_request_id: str | None = None
    raw: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)
    #: The estimated cost, when the client has a price for the model (the ``prices`` setting).
    cost: Cost | None = None
    #: The deployment that served the call, when a router chose among several.
    deployment: str | None = None
    #: The provider's rate-limit headers (``x-ratelimit-remaining-*``, ``-reset-*``), when sent.
    rate_limits: RateHint | None = field(default=None, repr=False, compare=False)
    #: True when the reply came from the client's reply cache (no request was sent).
    cache_hit: bool = False

    def __post_init__(self) -> None:
        if not self.choices:
            first = Choice(
                0, self.message, self.finish_reason, self.logprobs, self.refusal, self.reasoning_content
            )
            freeze(self, "choices", (first,))

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
    """One streamed delta; the last chunk carries ``finish_reason`` and, when sent, ``usage``.

    ``refusal`` and ``reasoning`` are deltas of the refusal and of the reasoning text (chat's
    ``reasoning_content``, the Responses API's reasoning summary). ``index`` is the choice the
    delta belongs to (``n`` > 1). ``raw`` is the JSON of the event that made the chunk; on the
    Responses API, ``events`` holds the events read since the previous chunk that made none, and
    the last chunk carries the response's ``output`` items. ``parse`` is the structured-output
    parser that ``fold_stream`` applies to the whole text.
    """

    text: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = ()
    finish_reason: str | None = None
    usage: Usage | None = None
    model: str = ""
    request_id: str | None = None
    content_filter: Mapping[str, Any] | None = None
    refusal: str = ""
    reasoning: str = ""
    logprobs: tuple[TokenLogprob, ...] | None = None
    index: int = 0
    id: str | None = None
    created: int | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None
    output: tuple[OutputItem, ...] = ()
    events: tuple[StreamEvent, ...] = ()
    apim_request_id: str | None = None
    parse: Callable[[str], Any] | None = field(default=None, repr=False, compare=False)
    raw: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)
    #: On the chunk that carries ``usage``: its estimated cost, when the client has a price.
    cost: Cost | None = None
    #: The deployment that served the stream, when a router chose among several.
    deployment: str | None = None
    #: On the first chunk: the provider's rate-limit headers, when sent.
    rate_limits: RateHint | None = field(default=None, repr=False, compare=False)
    #: True when the chunk was replayed from the client's reply cache (no request was sent).
    cache_hit: bool = False


@dataclass(frozen=True, slots=True)
class EmbeddingResponse:
    """One vector per input, in input order."""

    vectors: Sequence[Sequence[float]]
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    request_id: str | None = None
    apim_request_id: str | None = None
    #: The estimated cost, when the client has a price for the model (the ``prices`` setting).
    cost: Cost | None = None
    #: The deployment that served the call, when a router chose among several.
    deployment: str | None = None
    #: The provider's rate-limit headers (``x-ratelimit-remaining-*``, ``-reset-*``), when sent.
    rate_limits: RateHint | None = field(default=None, repr=False, compare=False)
    #: How many inputs were served from the client's reply cache (their vectors were not sent for).
    cache_hits: int = 0


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A bearer token and when it expires (seconds since the epoch). Its repr hides the token."""

    token: str = field(repr=False)
    expires_on: float


Served = TypeVar("Served", ChatResponse, ChatChunk, EmbeddingResponse)


def served_by(reply: Served, deployment: str) -> Served:
    """A copy of ``reply`` naming the ``deployment`` that served it.

    Copied slot by slot: the reply was validated when it was built, and ``dataclasses.replace``
    would validate it again (30 us for a chunk, for every chunk of a stream).
    """
    cls = type(reply)
    copy = object.__new__(cls)
    for name in cls.__slots__:
        object.__setattr__(copy, name, getattr(reply, name))
    object.__setattr__(copy, "deployment", deployment)
    return copy
