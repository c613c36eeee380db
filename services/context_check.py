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

import dataclasses
from collections.abc import Mapping, Sequence

from ..domain.context_windows import ContextWindow, known_window
from ..domain.errors import ContextLengthExceededError
from ..domain.messages import TextPart
from ..domain.models import Api, ChatRequest
from ..domain.ports import TokenCounter
from ..domain.tokens import TokenCount

__all__ = ["ESTIMATE_MARGIN", "ContextCheck", "fits", "too_long", "upper_bound"]

#: The share an estimated count is cut by before it may refuse a request.
ESTIMATE_MARGIN = 0.25
# Tokens a message costs besides its text: its role and the markers around it (OpenAI's rules
# count 3 or 4, and a name 1 more); generous, as an upper bound must be.
_PER_MESSAGE = 16
# The most model names whose window is remembered.
_REMEMBERED = 1024


class ContextCheck:
    """Refuses a chat request that cannot fit its model's window; counts only when it may not fit.

    Args:
        counter: counts the prompt (the TokenCounter port).
        context_window: the ``context_window`` setting: every request's window; None: by model.
        deployment_models: the ``deployment_models`` setting: the model behind a deployment
            name (Azure), whose window the table knows.
        windows: the windows of a routed client's deployments: a request must fit one of them
            (its Router then picks one it fits); when given, the other two are not used.
        api: the ``api`` setting: what a request that names no API is counted as.
    """

    __slots__ = ("_api", "_counter", "_deployment_models", "_fixed", "_windows")

    def __init__(
        self,
        counter: TokenCounter,
        *,
        context_window: int | None = None,
        deployment_models: Mapping[str, str] | None = None,
        windows: Sequence[ContextWindow] = (),
        api: Api = "chat",
    ) -> None:
        self._counter = counter
        self._api = api
        fixed = tuple(windows)
        if not fixed and context_window is not None:
            fixed = (ContextWindow(context_window),)
        self._fixed = fixed
        self._deployment_models = dict(deployment_models or {})
        self._windows: dict[str | None, tuple[ContextWindow, ...]] = {}

    def windows(self, model: str | None) -> tuple[ContextWindow, ...]:
        """The windows a request to ``model`` (a model or an Azure deployment name) must fit one
        of; empty when none is known (nothing is checked)."""
        if self._fixed:
            return self._fixed
        try:
            return self._windows[model]
        except KeyError:
            named = self._deployment_models.get(model, model) if model is not None else None
            known = known_window(named)
            if len(self._windows) >= _REMEMBERED:  # models a caller makes up must not grow it forever
                self._windows.clear()
            found = self._windows[model] = () if known is None else (known,)
            return found

    def check(self, request: ChatRequest) -> None:
        """Return when ``request`` (its model resolved) fits a window, or nothing is known of it.

        Raises:
            ContextLengthExceededError: its counted prompt plus ``max_tokens`` fits no window.
        """
        windows = self.windows(request.model)
        if not windows:
            return
        reserve = request.max_tokens or 0
        bound = upper_bound(request)
        if bound is not None and any(fits(bound, True, reserve, window) for window in windows):
            return  # the usual case, settled without a tokenizer
        if request.api is None:  # counted as the adapter will send it
            request = dataclasses.replace(request, api=self._api)
        count = self._counter.count_chat(request)
        if not any(fits(count.tokens, count.exact, reserve, window) for window in windows):
            largest = max(windows, key=lambda window: window.tokens)
            raise too_long(count, reserve, largest, request.model)


def fits(prompt: int, exact: bool, reserve: int, window: ContextWindow) -> bool:
    """Whether a prompt of ``prompt`` tokens (an estimate unless ``exact``) plus ``reserve`` fits."""
    if not exact:
        prompt = int(prompt * (1 - ESTIMATE_MARGIN))
    if window.max_input is not None and prompt > window.max_input:
        return False
    return prompt + reserve <= window.tokens


def too_long(
    count: TokenCount,
    reserve: int,
    window: ContextWindow,
    model: str | None,
    *,
    deployment: str | None = None,
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
