"""The Batch API's values: a provider batch as llmport sees it, its counts, a provider's limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "TERMINAL_STATUSES",
    "BatchCounts",
    "BatchInfo",
    "BatchKind",
    "BatchLimits",
    "BatchProblem",
]

#: What a batch runs: chat (chat.completions or the Responses API) or embeddings.
BatchKind = Literal["chat", "responses", "embeddings"]

#: Statuses after which a provider batch never changes again.
TERMINAL_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})


@dataclass(frozen=True, slots=True)
class BatchCounts:
    """How many requests a batch (or a job) holds, and how many have finished well or badly."""

    total: int = 0
    completed: int = 0
    failed: int = 0

    def __add__(self, other: BatchCounts) -> BatchCounts:
        return BatchCounts(
            self.total + other.total, self.completed + other.completed, self.failed + other.failed
        )


@dataclass(frozen=True, slots=True)
class BatchProblem:
    """One error a provider gives for a whole batch (``batch.errors``): its code, message and line."""

    code: str
    message: str
    line: int | None = None


@dataclass(frozen=True, slots=True)
class BatchInfo:
    """A provider batch as retrieved: its id, status, files, counts and errors."""

    id: str
    status: str
    input_file_id: str = ""
    output_file_id: str | None = None
    error_file_id: str | None = None
    counts: BatchCounts = BatchCounts()
    errors: tuple[BatchProblem, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        """Whether the batch has ended (completed, failed, expired or cancelled)."""
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """What one provider batch may hold: requests, bytes of its input file, embedding inputs."""

    max_requests: int
    max_bytes: int
    max_embedding_inputs: int | None = None
