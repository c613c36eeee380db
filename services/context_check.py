"""The context-window check: a chat request whose prompt plus ``max_tokens`` cannot fit is refused
before anything is sent, with the numbers counted (``ContextLengthExceededError``).

What is reserved for the reply: ``max_tokens`` when the request sets it, else nothing. Without
``max_tokens`` the provider lets the reply use whatever the prompt leaves, and refuses only a
prompt that is itself too long; refusing more would turn away requests it accepts.

How sure a count must be: an exact count (the model's own encoding) is checked as it is; an
estimate (a model whose encoding the counter does not know) refuses only when even a quarter
less (``ESTIMATE_MARGIN``) would not fit: tokenizers of other model families split the same text
differently, and a refusal must not rest on a guess. A model with no known window (neither the
``context_window`` setting nor the built-in table, ``domain/context_windows.py``) is not checked.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..domain.context_windows import ContextWindow, known_window
from ..domain.errors import ContextLengthExceededError
from ..domain.messages import TextPart
from ..domain.models import ChatRequest
from ..domain.ports import TokenCounter
from ..domain.tokens import TokenCount

__all__ = ["ESTIMATE_MARGIN", "ContextCheck", "fits", "too_long", "upper_bound"]

#: The share an estimated count is cut by before it may refuse a request.
ESTIMATE_MARGIN = 0.25
# Tokens a message costs besides its text: its role and the markers around it (OpenAI's rules
# count 3 or 4, and a name 1 more); generous, as an upper bound must be.
_PER_MESSAGE = 16


class ContextCheck:
    """Refuses a chat request that cannot fit its model's window; counts only when it may not fit.

    Args:
        counter: counts the prompt (the TokenCounter port).
        context_window: the ``context_window`` setting: every request's window; None: by model.
        deployment_models: the ``deployment_models`` setting: the model behind a deployment
            name (Azure), whose window the table knows.
    """

    __slots__ = ("_counter", "_deployment_models", "_window", "_windows")

    def __init__(
        self,
        counter: TokenCounter,
        *,
        context_window: int | None = None,
        deployment_models: Mapping[str, str] | None = None,
    ) -> None:
        self._counter = counter
        self._window = None if context_window is None else ContextWindow(context_window)
        self._deployment_models = dict(deployment_models or {})
        self._windows: dict[str | None, ContextWindow | None] = {}

    def window(self, model: str | None) -> ContextWindow | None:
        """The window requests to ``model`` (a model or an Azure deployment name) must fit, or None."""
        if self._window is not None:
            return self._window
        try:
            return self._windows[model]
        except KeyError:
            named = self._deployment_models.get(model, model) if model is not None else None
            found = self._windows[model] = known_window(named)
            return found

    def check(self, request: ChatRequest) -> None:
        """Return when ``request`` (its model resolved) fits its window, or nothing is known of it.

        Raises:
            ContextLengthExceededError: its counted prompt plus ``max_tokens`` cannot fit.
        """
        window = self.window(request.model)
        if window is None:
            return
        reserve = request.max_tokens or 0
        bound = upper_bound(request)
        if bound is not None and fits(bound, True, reserve, window):
            return  # the usual case, settled without a tokenizer
        count = self._counter.count_chat(request)
        if not fits(count.tokens, count.exact, reserve, window):
            raise too_long(count, reserve, window, request.model)


def fits(prompt: int, exact: bool, reserve: int, window: ContextWindow) -> bool:
    """Whether a prompt of ``prompt`` tokens (an estimate unless ``exact``) plus ``reserve`` fits."""
    if not exact:
        prompt = int(prompt * (1 - ESTIMATE_MARGIN))
    if window.max_input is not None and prompt > window.max_input:
        return False
    return prompt + reserve <= window.tokens


def too_long(
    count: TokenCount, reserve: int, window: ContextWindow, model: str | None, *, deployment: str | None = None
) -> ContextLengthExceededError:
    """The error for a prompt of ``count`` that does not fit ``window`` with ``reserve`` for the reply."""
    counted = "" if count.exact else "about "
    asked = f" + max_tokens {reserve}" if reserve else ""
    limit = f"{window.tokens}"
    if window.max_input is not None:
        limit += f" (at most {window.max_input} of them prompt)"
    return ContextLengthExceededError(
        f"the prompt is {counted}{count.tokens} tokens{asked}: more than the context window of "
        f"{limit} tokens of {model}; shorten the conversation, lower max_tokens or use a model "
        "with a larger window (nothing was sent)",
        prompt_tokens=count.tokens,
        max_tokens=reserve,
        context_window=window.tokens,
        code="context_length_exceeded",
        deployment=deployment,
    )


def upper_bound(request: ChatRequest) -> int | None:
    """Tokens ``request``'s prompt cannot exceed, without a tokenizer; None when it has parts
    (images, tools, schemas, tool calls, an earlier response) that only a count can bound.

    A byte-level BPE (every OpenAI encoding) spends at least one UTF-8 byte per token, so a
    text's bytes bound its tokens; a character is at most 4 bytes.
    """
    if request.tools or request.response_format is not None or request.previous_response_id:
        return None
    total = _PER_MESSAGE
    if request.instructions:
        total += _size(request.instructions) + _PER_MESSAGE
    for message in request.messages:
        if message.tool_calls:
            return None
        content = message.content
        if type(content) is str:
            total += _size(content)
        elif content is not None:
            for part in content:
                if type(part) is not TextPart:
                    return None
                total += _size(part.text)
        if message.name:
            total += _size(message.name)
        total += _PER_MESSAGE
    return total


def _size(text: str) -> int:
    return len(text) if text.isascii() else 4 * len(text)
