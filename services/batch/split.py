"""Splitting a job's request lines into provider batches at the provider's limits, keeping order."""

from __future__ import annotations

from collections.abc import Sequence

from ...domain.batch import BatchLimits
from ...domain.errors import ValidationError

__all__ = ["split"]


def split(sizes: Sequence[int], inputs: Sequence[int], limits: BatchLimits) -> list[tuple[int, int]]:
    """Cut rows ``0..n`` into consecutive ``[start, end)`` parts that each fit one batch.

    A part holds at most ``limits.max_requests`` lines, ``limits.max_bytes`` bytes, and (when the
    provider counts them) ``limits.max_embedding_inputs`` embedding inputs.

    Args:
        sizes: each line's size in bytes.
        inputs: each line's embedding inputs (1 for chat).
        limits: the provider's limits for one batch.

    Raises:
        ValidationError: one line alone is larger than a whole batch may be.
    """
    parts: list[tuple[int, int]] = []
    start = count = size = held = 0
    most_inputs = limits.max_embedding_inputs
    for row, (line_size, line_inputs) in enumerate(zip(sizes, inputs, strict=True)):
        if line_size > limits.max_bytes:
            raise ValidationError(
                f"request {row} is {line_size} bytes as a batch line; "
                f"a batch file may hold {limits.max_bytes}"
            )
        full = (
            count + 1 > limits.max_requests
            or size + line_size > limits.max_bytes
            or (most_inputs is not None and held + line_inputs > most_inputs)
        )
        if full and count:
            parts.append((start, row))
            start, count, size, held = row, 0, 0, 0
        count += 1
        size += line_size
        held += line_inputs
    if count:
        parts.append((start, start + count))
    return parts
