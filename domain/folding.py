"""A stream's chunks added up into the ChatResponse that ``complete`` would have returned."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .errors import ValidationError
from .models import ChatChunk, ChatResponse, Choice, Message, TokenLogprob, ToolCall, Usage

__all__ = ["fold_stream", "structured_output"]


def structured_output(
    parser: Callable[[str], Any] | None, text: str, refusal: str | None, finish_reason: str | None
) -> Any:
    """The structured output: ``parser(text)``, or None after a refusal or a reply cut short."""
    if parser is None or refusal or not text or finish_reason in ("length", "content_filter"):
        return None
    return parser(text)


class _Choice:
    """What the chunks of one choice (one ``index``) add up to."""

    __slots__ = ("calls", "finish_reason", "logprobs", "reasoning", "refusal", "text")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.refusal: list[str] = []
        self.reasoning: list[str] = []
        self.calls: dict[int, list[str]] = {}  # index -> [id, name, arguments]
        self.finish_reason: str | None = None
        self.logprobs: list[TokenLogprob] | None = None

    def add(self, chunk: ChatChunk) -> None:
        self.text.append(chunk.text)
        if chunk.refusal:
            self.refusal.append(chunk.refusal)
        if chunk.reasoning:
            self.reasoning.append(chunk.reasoning)
        for delta in chunk.tool_calls:
            call = self.calls.setdefault(delta.index, ["", "", ""])
            call[0] = delta.id or call[0]
            call[1] = delta.name or call[1]
            call[2] += delta.arguments
        self.finish_reason = chunk.finish_reason or self.finish_reason
        if chunk.logprobs is not None:
            self.logprobs = [*(self.logprobs or ()), *chunk.logprobs]

    def build(self, index: int) -> Choice:
        tool_calls = tuple(ToolCall(*self.calls[number]) for number in sorted(self.calls))
        joined = "".join(self.text)
        return Choice(
            index,
            Message("assistant", joined if joined or not tool_calls else None, tool_calls=tool_calls),
            self.finish_reason,
            None if self.logprobs is None else tuple(self.logprobs),
            "".join(self.refusal) or None,
            "".join(self.reasoning) or None,
        )


def fold_stream(chunks: Iterable[ChatChunk]) -> ChatResponse:
    """Consume a stream and return the ChatResponse it adds up to.

    Text, refusal and reasoning deltas are joined per choice (``index``), tool-call fragments
    are assembled by index, and the finish reason, usage, model, ids, filter results and (on
    the Responses API) output items are taken from the chunks that carry them. With a
    structured-output type, ``parsed`` is the whole text parsed at the end.

    Raises:
        ValidationError: ``chunks`` is not an iterable of ChatChunk.
    """
    if not isinstance(chunks, Iterable):
        raise ValidationError(f"fold_stream takes the chunks of Client.stream, got {type(chunks).__name__}")
    choices: dict[int, _Choice] = {}
    last: dict[str, Any] = {}
    usage: Usage | None = None
    parse: Callable[[str], Any] | None = None
    for chunk in chunks:
        if not isinstance(chunk, ChatChunk):
            raise ValidationError(f"fold_stream takes ChatChunk objects, got a {type(chunk).__name__}")
        state = choices.get(chunk.index)
        if state is None:
            state = choices[chunk.index] = _Choice()
        state.add(chunk)
        usage = chunk.usage or usage
        parse = chunk.parse or parse
        for name in _LAST_WINS:
            value = getattr(chunk, name)
            if value:
                last[name] = value
    built = tuple(choices[index].build(index) for index in sorted(choices)) or (_Choice().build(0),)
    first = built[0]
    return ChatResponse(
        message=first.message,
        finish_reason=first.finish_reason,
        usage=usage or Usage(),
        refusal=first.refusal,
        reasoning_content=first.reasoning_content,
        logprobs=first.logprobs,
        choices=built,
        parsed=structured_output(parse, first.message.text, first.refusal, first.finish_reason),
        **last,
    )


# Fields where the last chunk that has a value gives the reply's value.
_LAST_WINS = (
    "model",
    "request_id",
    "content_filter",
    "id",
    "created",
    "system_fingerprint",
    "service_tier",
    "output",
    "apim_request_id",
    "cost",
    "deployment",
    "cache_hit",
)
