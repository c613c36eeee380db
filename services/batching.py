"""Splitting embedding inputs into requests a provider accepts: by count and by counted tokens."""

from __future__ import annotations

from collections.abc import Sequence

from ..domain.defaults import MAX_EMBEDDING_BATCH

__all__ = ["MAX_BATCH_SIZE", "estimate_tokens", "plan_batches"]

# The most inputs OpenAI and Azure OpenAI accept in one embeddings request.
MAX_BATCH_SIZE = MAX_EMBEDDING_BATCH

# OpenAI tokenizers average about 4 UTF-8 bytes per token on English prose; dividing by 3 over-counts
# prose by a third so that denser text (code, digits, CJK at 3 bytes a character) still fits.
_BYTES_PER_TOKEN = 3


def estimate_tokens(text: str) -> int:
    """Return a cheap, deliberately generous token estimate: ``ceil(utf8_bytes / 3)``, at least 1.

    It is no tokenizer: a batch the provider still finds too large comes back as BadRequestError.
    """
    size = len(text) if text.isascii() else len(text.encode("utf-8"))
    return max(1, -(-size // _BYTES_PER_TOKEN))


def plan_batches(
    inputs: Sequence[str], batch_size: int, token_budget: int, counts: Sequence[int] | None = None
) -> list[range]:
    """Return consecutive index ranges covering ``inputs`` in order, one per request.

    A batch closes when it holds ``batch_size`` inputs or the next input would push its
    tokens past ``token_budget``. An input larger than the budget on its own goes alone (the
    provider decides whether it fits its per-input limit).

    Args:
        inputs: the texts, in order.
        batch_size: the most inputs per request, 1..2048.
        token_budget: the most tokens per request, >= 1.
        counts: each input's counted tokens; None: estimated (``estimate_tokens``).
    """
    batches: list[range] = []
    start, tokens = 0, 0
    for index, text in enumerate(inputs):
        cost = estimate_tokens(text) if counts is None else counts[index]
        if index > start and (index - start >= batch_size or tokens + cost > token_budget):
            batches.append(range(start, index))
            start, tokens = index, 0
        tokens += cost
    if inputs:
        batches.append(range(start, len(inputs)))
    return batches
