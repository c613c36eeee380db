"""A TokenCounter whose tokens are words: plain to reason about in tests of what uses a counter."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from llmport.domain.models import ChatRequest
from llmport.domain.tokens import TextTokenCounts, TokenCount

__all__ = ["WordCounter", "words"]


def words(count: int, word: str = "word") -> str:
    """A text of ``count`` words."""
    return " ".join([word] * count)


class WordCounter:
    """Counts whitespace-separated words: a message's text, its name, the instructions; records calls.

    Args:
        exact: what each count says of itself (False: an estimate).
    """

    def __init__(self, *, exact: bool = True) -> None:
        self.exact = exact
        self.chat_calls = 0
        self.text_calls = 0
        self._lock = threading.Lock()

    def count_chat(self, request: ChatRequest) -> TokenCount:
        with self._lock:
            self.chat_calls += 1
        tokens = len((request.instructions or "").split())
        for message in request.messages:
            tokens += len(message.text.split()) + len((message.name or "").split())
        return TokenCount(tokens, self.exact, None, request.model)

    def count_texts(self, texts: Sequence[str], model: str) -> TextTokenCounts:
        with self._lock:
            self.text_calls += 1
        return TextTokenCounts(tuple(len(text.split()) for text in texts), self.exact, None, model)

    def truncate(self, text: str, model: str, limit: int) -> str:
        return " ".join(text.split()[:limit])
