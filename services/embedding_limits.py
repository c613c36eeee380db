"""An embeddings request held to its model's limits before it is sent: each input at most the
model's per-input tokens (8,191 on OpenAI's embedding models: refused naming its index, or cut at a
token boundary with ``truncate=True``), and the true token counts for the batches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from ..domain.context_windows import embedding_input_limit
from ..domain.errors import ValidationError
from ..domain.models import EmbeddingRequest
from ..domain.ports import TokenCounter
from .context_check import ESTIMATE_MARGIN

__all__ = ["EmbeddingLimits"]


class EmbeddingLimits:
    """Counts an embeddings request's inputs, only when a limit may be at stake, and holds them to it.

    Args:
        counter: counts each input (the TokenCounter port).
        token_budget: the most tokens per request (``embedding_token_budget``): inputs whose bytes
            stay under it and under the per-input limit are not counted (a byte-level BPE spends
            at least one byte per token).
        deployment_models: the model behind a deployment name (Azure), whose limit the table knows.
    """

    __slots__ = ("_counter", "_deployment_models", "_token_budget")

    def __init__(
        self, counter: TokenCounter, *, token_budget: int, deployment_models: Mapping[str, str] | None = None
    ) -> None:
        self._counter = counter
        self._token_budget = token_budget
        self._deployment_models = dict(deployment_models or {})

    def fitted(self, request: EmbeddingRequest) -> tuple[EmbeddingRequest, tuple[int, ...] | None]:
        """``request`` as it may be sent (over-long inputs cut when it asks for ``truncate``), and
        each input's tokens for the batches; None when its bytes show that nothing is at stake.

        Raises:
            ValidationError: an input is longer than the model's per-input limit (its index is
                named) and ``truncate`` is not set; nothing was sent.
        """
        model = request.model or ""
        limit = embedding_input_limit(self._deployment_models.get(model, model))
        sizes = [len(text) if text.isascii() else 4 * len(text) for text in request.inputs]
        if (limit is None or max(sizes) <= limit) and sum(sizes) <= self._token_budget:
            return request, None
        counted = self._counter.count_texts(request.inputs, model)
        counts = list(counted.counts)
        if limit is None:
            return request, tuple(counts)
        # An estimate (an encoding the counter does not know) refuses only when clearly over.
        trusted = limit if counted.exact else int(limit / (1 - ESTIMATE_MARGIN))
        over = [index for index, count in enumerate(counts) if count > trusted]
        if not over:
            return request, tuple(counts)
        if not request.truncate:
            raise _too_long(over, counts, limit, model)
        inputs = list(request.inputs)
        for index in over:
            inputs[index] = self._counter.truncate(inputs[index], model, limit)
            counts[index] = limit
        return dataclasses.replace(request, inputs=tuple(inputs)), tuple(counts)


def _too_long(over: list[int], counts: list[int], limit: int, model: str) -> ValidationError:
    first = over[0]
    more = f" (and {len(over) - 1} more)" if len(over) > 1 else ""
    return ValidationError(
        f"embedding input {first}{more} is {counts[first]} tokens: more than the {limit} that {model} "
        "takes in one input; split it, or pass truncate=True to cut it at a token boundary "
        "(nothing was sent)",
        code="input_too_long",
    )
