"""Test doubles for every port: scripted answers and errors, recorded requests, deterministic defaults."""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from ..domain.errors import StreamInterruptedError
from ..domain.folding import structured_output
from ..domain.models import (
    AccessToken,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    Message,
    ToolCallDelta,
    Usage,
)
from ..domain.tokens import TextTokenCounts, TokenCount

__all__ = [
    "ChatScriptItem",
    "FakeChat",
    "FakeCredential",
    "FakeEmbeddings",
    "FakeStreamBreak",
    "FakeTokenCounter",
]

ItemT = TypeVar("ItemT")

# Word-sized pieces that join back to the exact text: a word with the whitespace after it,
# or the whitespace a text starts with.
_PIECES = re.compile(r"\S+\s*|\s+")


def _broken_stream_error() -> BaseException:
    return StreamInterruptedError("the fake stream broke", provider="fake")


@dataclass(frozen=True, slots=True)
class FakeStreamBreak:
    """A FakeChat script item: a stream that yields ``after`` chunks of ``reply``, then raises.

    Given to ``complete()`` instead, it raises ``error`` at once.

    Args:
        after: how many chunks come out before the failure (0: it fails before the first).
        error: what the stream raises.
        reply: the reply being streamed (a ChatResponse or its text); by default the usual
            deterministic reply to the request.
    """

    after: int = 1
    error: BaseException = field(default_factory=_broken_stream_error)
    reply: ChatResponse | str | None = None


class _Scripted(Generic[ItemT]):
    """Shared machinery: a locked queue of scripted items, the requests seen, a close flag."""

    def __init__(self, script: Iterable[ItemT]) -> None:
        self._lock = threading.Lock()
        self._script: deque[ItemT] = deque(script)
        self.closed = False

    def push(self, *items: ItemT) -> None:
        """Append items to the script; each later call takes the next one."""
        with self._lock:
            self._script.extend(items)

    @property
    def pending(self) -> int:
        """How many scripted items are not used yet."""
        with self._lock:
            return len(self._script)

    def _take(self) -> ItemT | None:
        # Caller holds self._lock.
        return self._script.popleft() if self._script else None

    def close(self) -> None:
        """Record that the fake was closed (``closed`` becomes True); safe to repeat."""
        self.closed = True


ChatScriptItem = ChatResponse | str | BaseException | FakeStreamBreak


class FakeChat(_Scripted[ChatScriptItem]):
    """A ChatPort that replays a script, then answers ``"fake reply to: <last user text>"``.

    Script items, one per call (``complete`` or ``stream``): a ChatResponse, a str (the reply
    text), an exception instance (raised by that call) or a FakeStreamBreak. Every request is
    recorded in ``requests``. Thread-safe.

    Args:
        script: the first answers, in order.
        model: the model named in default replies when the request names none.
    """

    def __init__(self, *script: ChatScriptItem, model: str = "fake-chat") -> None:
        super().__init__(script)
        self.model = model
        self.requests: list[ChatRequest] = []

    def __repr__(self) -> str:
        return f"FakeChat(model={self.model!r}, pending={self.pending}, requests={len(self.requests)})"

    def _next(self, request: ChatRequest) -> tuple[ChatScriptItem, int]:
        with self._lock:
            self.requests.append(request)
            item = self._take()
            number = len(self.requests)
        return (f"fake reply to: {_last_user_text(request)}" if item is None else item), number

    def _response(self, item: ChatResponse | str, request: ChatRequest, number: int) -> ChatResponse:
        if isinstance(item, ChatResponse):
            return item
        prompt = sum(len(message.text.split()) for message in request.messages)
        completion = len(item.split())
        parser = None if request.response_format is None else request.response_format.parser
        return ChatResponse(
            message=Message.assistant(item),
            finish_reason="stop",
            usage=Usage(prompt, completion, prompt + completion),
            model=request.model or self.model,
            request_id=f"fake-request-{number}",
            id=f"fake-{number}",
            parsed=structured_output(parser, item, None, "stop"),
        )

    def complete(self, request: ChatRequest) -> ChatResponse:
        """Return the next scripted reply, or the default one; raise a scripted exception."""
        item, number = self._next(request)
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, FakeStreamBreak):
            raise item.error
        return self._response(item, request, number)

    def stream(self, request: ChatRequest) -> Iterator[ChatChunk]:
        """Yield the next reply as word chunks, then a last chunk with finish_reason and usage.

        Nothing is recorded or taken from the script until the first ``next()``; a scripted
        exception is raised there, before any chunk.
        """
        item, number = self._next(request)
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, FakeStreamBreak):
            default = f"fake reply to: {_last_user_text(request)}"
            chunks = _chunks(self._response(item.reply or default, request, number), request)
            yield from chunks[: max(item.after, 0)]
            raise item.error
        yield from _chunks(self._response(item, request, number), request)


def _last_user_text(request: ChatRequest) -> str:
    for message in reversed(request.messages):
        if message.role == "user":
            return message.text
    return request.messages[-1].text


def _chunks(response: ChatResponse, request: ChatRequest) -> list[ChatChunk]:
    # Tool calls come as two fragments each (name, then arguments in two halves) so that
    # consumers exercise the same assembly by index that real streams need.
    model, request_id = response.model, response.request_id
    chunks = [
        ChatChunk(text=piece, model=model, request_id=request_id) for piece in _PIECES.findall(response.text)
    ]
    if response.refusal:
        chunks.append(ChatChunk(refusal=response.refusal, model=model, request_id=request_id))
    if response.reasoning_content:
        chunks.insert(0, ChatChunk(reasoning=response.reasoning_content, model=model, request_id=request_id))
    for index, call in enumerate(response.tool_calls):
        half = len(call.arguments) // 2
        chunks.append(
            ChatChunk(tool_calls=(ToolCallDelta(index, call.id, call.name, call.arguments[:half]),))
        )
        chunks.append(ChatChunk(tool_calls=(ToolCallDelta(index, arguments=call.arguments[half:]),)))
    fmt = request.response_format
    chunks.append(
        ChatChunk(
            finish_reason=response.finish_reason,
            usage=response.usage,
            model=response.model,
            request_id=response.request_id,
            content_filter=response.content_filter,
            id=response.id,
            output=response.output,
            parse=None if fmt is None else fmt.parser,
        )
    )
    return chunks


class FakeEmbeddings(_Scripted[EmbeddingResponse | BaseException]):
    """An EmbeddingPort with stable vectors: the same text gives the same unit vector in any process.

    Script items, one per call: an EmbeddingResponse or an exception instance (raised by that
    call). Unscripted calls return ``FakeEmbeddings.vector(text, dimensions)`` for each input,
    with one prompt token per word. Every request is recorded in ``requests``. Thread-safe.

    Args:
        script: the first answers, in order.
        dimensions: the vector length when the request does not ask for one.
        model: the model named in responses when the request names none.
    """

    def __init__(
        self, *script: EmbeddingResponse | BaseException, dimensions: int = 8, model: str = "fake-embedding"
    ) -> None:
        super().__init__(script)
        self.dimensions = dimensions
        self.model = model
        self.requests: list[EmbeddingRequest] = []

    def __repr__(self) -> str:
        return f"FakeEmbeddings(model={self.model!r}, pending={self.pending}, requests={len(self.requests)})"

    @staticmethod
    def vector(text: str, dimensions: int = 8) -> list[float]:
        """Return the unit vector the fake gives ``text``: sha256 of the text, counter-mode, normalised."""
        values: list[float] = []
        block = 0
        while len(values) < dimensions:
            digest = hashlib.sha256(f"{block}:{text}".encode()).digest()
            values.extend(int.from_bytes(digest[i : i + 4], "big") / 2**31 - 1.0 for i in range(0, 32, 4))
            block += 1
        del values[dimensions:]
        norm = math.sqrt(sum(value * value for value in values)) or 1.0
        return [value / norm for value in values]

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Return the next scripted response, or deterministic vectors; raise a scripted exception."""
        with self._lock:
            self.requests.append(request)
            item = self._take()
            number = len(self.requests)
        if isinstance(item, BaseException):
            raise item
        if item is not None:
            return item
        dimensions = request.dimensions or self.dimensions
        tokens = sum(max(1, len(text.split())) for text in request.inputs)
        return EmbeddingResponse(
            vectors=[self.vector(text, dimensions) for text in request.inputs],
            usage=Usage(prompt_tokens=tokens, total_tokens=tokens),
            model=request.model or self.model,
            request_id=f"fake-request-{number}",
        )


class FakeCredential(_Scripted[AccessToken | BaseException]):
    """A CredentialPort handing out ``fake-token-1``, ``fake-token-2``... valid for ``lifetime``.

    Script items, one per call: an AccessToken or an exception instance (raised by that call).
    ``calls`` counts get_token calls, ``scopes`` records what each asked for and ``claims`` the
    claims challenge each passed (None for none). Thread-safe;
    its repr never shows a token.

    Args:
        script: the first answers, in order.
        lifetime: seconds from ``clock()`` until a default token expires.
        clock: seconds since the epoch.
    """

    def __init__(
        self,
        *script: AccessToken | BaseException,
        lifetime: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(script)
        self.lifetime = lifetime
        self.clock = clock
        self.calls = 0
        self.scopes: list[tuple[str, ...]] = []
        self.claims: list[str | None] = []
        self._issued = 0

    def __repr__(self) -> str:
        return f"FakeCredential(calls={self.calls}, pending={self.pending}, lifetime={self.lifetime!r})"

    def get_token(self, *scopes: str, claims: str | None = None) -> AccessToken:
        """Return the next scripted token, or a new numbered one; raise a scripted exception."""
        with self._lock:
            self.calls += 1
            self.scopes.append(scopes)
            self.claims.append(claims)
            item = self._take()
            if item is None:
                self._issued += 1
                item = AccessToken(f"fake-token-{self._issued}", self.clock() + self.lifetime)
        if isinstance(item, BaseException):
            raise item
        return item


class FakeTokenCounter:
    """A TokenCounter that counts words, as FakeChat and FakeEmbeddings report usage.

    A chat request counts the words of its messages' text (FakeChat's ``prompt_tokens``), a text
    its words, at least 1 (FakeEmbeddings'); ``tokens`` fixes every chat count instead. Counts are
    exact, with no encoding. Every request counted is recorded in ``requests``. Thread-safe.

    Args:
        tokens: the count of every chat request; None: its words.
    """

    def __init__(self, tokens: int | None = None) -> None:
        self.tokens = tokens
        self.requests: list[ChatRequest] = []
        self._lock = threading.Lock()

    def count_chat(self, request: ChatRequest) -> TokenCount:
        """The words of the messages' text, or the fixed ``tokens``."""
        with self._lock:
            self.requests.append(request)
        words = sum(len(message.text.split()) for message in request.messages)
        return TokenCount(words if self.tokens is None else self.tokens, True, None, request.model)

    def count_texts(self, texts: Sequence[str], model: str) -> TextTokenCounts:
        """The words of each text, at least 1."""
        return TextTokenCounts(tuple(max(1, len(text.split())) for text in texts), True, None, model)

    def truncate(self, text: str, model: str, limit: int) -> str:
        """The first ``limit`` words of ``text`` (unchanged when it has no more)."""
        pieces = _PIECES.findall(text)  # a word with the whitespace after it, or leading whitespace
        words = [index for index, piece in enumerate(pieces) if not piece.isspace()]
        if len(words) <= limit:
            return text
        return "".join(pieces[: words[limit - 1] + 1]).rstrip() if limit > 0 else ""


if TYPE_CHECKING:
    # mypy proves the fakes fit the ports structurally; nothing here runs.
    from ..domain.ports import ChatPort, Closeable, CredentialPort, EmbeddingPort, TokenCounter

    _chat: ChatPort = FakeChat()
    _embeddings: EmbeddingPort = FakeEmbeddings()
    _credential: CredentialPort = FakeCredential()
    _closeable: Closeable = FakeChat()
    _counter: TokenCounter = FakeTokenCounter()
