"""What a routed call costs before it is sent, and which deployments' windows it fits.

With a token counter, a chat call reserves its counted prompt plus its ``max_tokens`` (the
router's ``default_max_tokens`` when unset), which is how Azure's rate limiter charges a request
when it arrives, and an embedding call the counted tokens of its inputs; without one, the
estimates of ``plan.py``. A call is counted only when something depends on the count: a
deployment with a ``tpm`` limit, or a window its bytes do not show it fits (``upper_bound``);
else it reserves the estimate, which no limit reads (and a client's first call does not wait
for the tokenizer to load). A chat call too long for a deployment's context window skips it
(logged ``skipped``, ``reason=context_window``): the fallback LiteLLM calls
``context_window_fallbacks``; too long for every one, it raises before anything is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...domain.models import ChatRequest, EmbeddingRequest
from ...domain.ports import TokenCounter
from ...domain.tokens import TokenCount
from ..context_check import fits, too_long, upper_bound
from .plan import Deployment, estimate_chat, estimate_embedding, log_event

__all__ = ["Sizer", "Sizing"]


@dataclass(frozen=True, slots=True)
class Sizing:
    """A chat call's reservation and where it fits.

    Args:
        tokens: reserved against the deployment's tokens per minute: prompt plus ``completion``.
        completion: what the reply may use, as reserved (``max_tokens`` or the default).
        too_small: the deployments whose context window the call does not fit.
    """

    tokens: int
    completion: int
    too_small: frozenset[str] = frozenset()


class Sizer:
    """Counts a routed call once, for its reservation and its context-window fit.

    Args:
        counter: the TokenCounter port; None: the estimates, and no window is checked.
        default_max_tokens: what a chat call without ``max_tokens`` reserves for its reply.
    """

    __slots__ = ("_counter", "_default_max_tokens")

    def __init__(self, counter: TokenCounter | None, default_max_tokens: int) -> None:
        self._counter = counter
        self._default_max_tokens = default_max_tokens

    def chat(self, request: ChatRequest, serving: Sequence[Deployment]) -> Sizing:
        """The call's reservation, and the deployments of ``serving`` too small for it.

        Raises:
            ContextLengthExceededError: no deployment's window fits it (nothing was sent).
        """
        completion = request.max_tokens or self._default_max_tokens
        reserve = request.max_tokens or 0  # the window's check, as the provider's (context_check.py)
        if self._counter is None or not (_limited(serving) or _at_stake(request, reserve, serving)):
            return Sizing(estimate_chat(request, self._default_max_tokens), completion)
        count = self._counter.count_chat(request)
        too_small = _too_small(count, reserve, serving)
        if too_small and len(too_small) == len(serving):
            largest = max(too_small, key=lambda d: d.context_window.tokens if d.context_window else 0)
            assert largest.context_window is not None  # only deployments with a window are too small
            raise too_long(count, reserve, largest.context_window, largest.model or request.model)
        return Sizing(count.tokens + completion, completion, frozenset(d.name for d in too_small))

    def embedding(self, request: EmbeddingRequest, serving: Sequence[Deployment]) -> int:
        """An embedding call's tokens: its inputs' counted tokens, or the estimate when no
        deployment of ``serving`` limits tokens."""
        if self._counter is None or request.model is None or not _limited(serving):
            return estimate_embedding(request)
        return self._counter.count_texts(request.inputs, request.model).total


def _too_small(count: TokenCount, reserve: int, serving: Sequence[Deployment]) -> list[Deployment]:
    """The deployments of ``serving`` whose window a prompt of ``count`` does not fit, each logged."""
    too_small = [
        deployment
        for deployment in serving
        if deployment.context_window is not None
        and not fits(count.tokens, count.exact, reserve, deployment.context_window)
    ]
    for deployment in too_small:
        window = deployment.context_window
        log_event(
            "skipped",
            deployment,
            reason="context_window",
            prompt_tokens=count.tokens,
            max_tokens=reserve,
            context_window=None if window is None else window.tokens,
        )
    return too_small


def _limited(serving: Sequence[Deployment]) -> bool:
    """Whether a deployment of ``serving`` limits tokens per minute: the reservation then counts."""
    return any(deployment.limits.tpm is not None for deployment in serving)


def _at_stake(request: ChatRequest, reserve: int, serving: Sequence[Deployment]) -> bool:
    """Whether a deployment's window may be too small for ``request``, as its bytes bound it."""
    windows = [d.context_window for d in serving if d.context_window is not None]
    if not windows:
        return False
    bound = upper_bound(request)
    return bound is None or not all(fits(bound, True, reserve, window) for window in windows)
