"""The TokenCounter port over tiktoken, with encodings that ship with the install (no download)."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence

from ...domain.models import ChatRequest
from ...domain.tokens import TextTokenCounts, TokenCount
from . import encodings
from .encodings import encoding, encoding_name
from .rules import TextCount, chat_tokens

__all__ = ["TiktokenCounter", "estimate_tokens"]

_ASCII_PER_TOKEN = 4
#: Characters of text whose counts a counter keeps per encoding (a few MB at most).
CACHED_CHARACTERS = 4_000_000


def estimate_tokens(text: str) -> int:
    """An estimate of ``text``'s tokens when the model's encoding is unknown.

    A quarter of a token per ASCII character and one per other character, rounded up: close to
    o200k_base and cl100k_base on English and code (ASCII words average ~4 characters per
    token), and on CJK text (about one token per character); it overestimates accented Latin
    text. No tokenizer is loaded.
    """
    ascii_chars = sum(1 for char in text if char < "\x80") if not text.isascii() else len(text)
    return math.ceil(ascii_chars / _ASCII_PER_TOKEN) + (len(text) - ascii_chars)


class TiktokenCounter:
    """Counts tokens with the model's tiktoken encoding and the service's rules (TokenCounter).

    The model of a request resolves through ``deployment_models`` first (Azure deployment names
    to the models behind them), else the name itself is taken as the model's. A model whose
    encoding llmport does not ship is counted by :func:`estimate_tokens` (``exact=False``);
    nothing here raises for an unknown model. tiktoken loads on the first exact count.

    Args:
        deployment_models: deployment (or alias) names to model names, the ``deployment_models``
            setting.
    """

    def __init__(self, deployment_models: Mapping[str, str] | None = None) -> None:
        self._models = dict(deployment_models or {})
        self._counts: dict[str, _CachedCount] = {}

    def model(self, name: str | None) -> str | None:
        """The model behind ``name``: the deployment map's entry, else ``name`` itself."""
        if name is None:
            return None
        return self._models.get(name, name)

    def count_chat(self, request: ChatRequest) -> TokenCount:
        """The prompt tokens of ``request``, as ``usage.prompt_tokens`` will report them."""
        model = self.model(request.model)
        name, count = self._counter(model)
        tally = chat_tokens(request, model, count)
        return TokenCount(tally.tokens, tally.exact and name is not None, name, model)

    def count_texts(self, texts: Sequence[str], model: str) -> TextTokenCounts:
        """The tokens of each text as an embeddings input for ``model`` (no framing tokens)."""
        resolved = self.model(model)
        name, count = self._counter(resolved)
        return TextTokenCounts(tuple(count(text) for text in texts), name is not None, name, resolved)

    def truncate(self, text: str, model: str, limit: int) -> str:
        """``text`` cut at a token boundary to at most ``limit`` tokens (by the estimate's
        characters when the encoding is unknown); unchanged when it fits."""
        name = encoding_name(self.model(model))
        if name is None:
            return _truncate_estimate(text, limit)
        codec = encoding(name)
        tokens = codec.encode_ordinary(text)
        if len(tokens) <= limit:
            return text
        # Decoding a prefix may end inside a character: drop tokens until it decodes whole.
        for end in range(limit, max(limit - 4, 0) - 1, -1):
            try:
                return codec.decode_bytes(tokens[:end]).decode("utf-8")
            except UnicodeDecodeError:
                continue
        return codec.decode(tokens[:limit], errors="ignore")

    def after_fork(self) -> None:
        """In a forked child: new locks (a parent thread may have held one); the counts stay."""
        encodings.after_fork()
        for count in list(self._counts.values()):
            count.after_fork()

    def _counter(self, model: str | None) -> tuple[str | None, TextCount]:
        name = encoding_name(model)
        if name is None:
            return None, estimate_tokens
        count = self._counts.get(name)
        if count is None:  # two threads may both make one: the same counts, one is kept
            count = self._counts.setdefault(name, _CachedCount(encoding(name).encode_ordinary))
        return name, count


class _CachedCount:
    """A text's token count, remembered: a conversation is counted again at every turn.

    Up to :data:`CACHED_CHARACTERS` characters of text are kept; past that, all are forgotten at
    once (cheaper than ordering them). Reads take no lock.
    """

    def __init__(self, encode: Callable[[str], list[int]]) -> None:
        self._encode = encode
        self._counts: dict[str, int] = {}
        self._characters = 0
        self._lock = threading.Lock()

    def __call__(self, text: str) -> int:
        tokens = self._counts.get(text)
        if tokens is not None:
            return tokens
        tokens = len(self._encode(text))
        if len(text) <= CACHED_CHARACTERS // 16:
            with self._lock:
                if self._characters + len(text) > CACHED_CHARACTERS:
                    self._counts, self._characters = {}, 0
                self._counts[text] = tokens
                self._characters += len(text)
        return tokens

    def after_fork(self) -> None:
        """In a forked child: a new lock."""
        self._lock = threading.Lock()


def _truncate_estimate(text: str, limit: int) -> str:
    if estimate_tokens(text) <= limit:
        return text
    low, high = 0, len(text)  # the longest prefix whose estimate fits
    while low < high:
        middle = (low + high + 1) // 2
        if estimate_tokens(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return text[:low]
