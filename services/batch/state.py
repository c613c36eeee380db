"""A batch job's state: what is saved before and after each step the provider remembers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ...domain.batch import BatchCounts, BatchKind
from ...domain.errors import ConfigurationError

__all__ = ["FORMAT", "JobState", "PartState", "rows_of"]

#: The state's format; a state written by another format is refused, not misread.
FORMAT = 1


def rows_of(ranges: list[list[int]]) -> Iterator[int]:
    """The input rows a part covers, from its ``[start, end)`` ranges."""
    for start, end in ranges:
        yield from range(start, end)


@dataclass
class PartState:
    """One provider batch of the job, and where it stands.

    ``step`` says what was last made durable: ``planned`` (its input file is in the store),
    ``uploading`` (a file called after the part may be at the provider: a resume looks for it),
    ``uploaded`` (``file_id`` is the provider's copy), ``creating`` (a batch tagged ``marker`` may
    exist: a resume looks for it before creating another), ``submitted`` (``batch_id``),
    ``waiting`` (refused for the enqueued-token limit: created again at ``not_before``),
    ``downloaded`` (the results are in the store), ``done`` (the provider's files are deleted).
    """

    index: int
    ranges: list[list[int]]
    requests: int
    step: str = "planned"
    tries: int = 0
    file_id: str | None = None
    batch_id: str | None = None
    marker: str | None = None
    status: str = "planned"
    total: int = 0
    completed: int = 0
    failed: int = 0
    errors: list[list[Any]] = field(default_factory=list)
    result_files: list[str] = field(default_factory=list)
    not_before: float = 0.0
    retry_of: int | None = None
    tokens: int = 0  # its prompt tokens, counted with max_enqueued_tokens: what it adds to the queue

    @property
    def ended(self) -> bool:
        """Whether its results are kept and nothing more will happen to it at the provider."""
        return self.step in ("downloaded", "done")

    @property
    def counts(self) -> BatchCounts:
        """Its requests, and how many finished well or badly so far."""
        return BatchCounts(self.requests, self.completed, self.failed)

    def input_name(self) -> str:
        return f"part-{self.index:04d}.in.jsonl"

    def output_name(self) -> str:
        return f"part-{self.index:04d}.out.jsonl"


@dataclass
class JobState:
    """The whole job: what it runs, on which model, split into which parts."""

    id: str
    kind: BatchKind
    model: str
    provider: str
    created_at: float
    total: int
    inputs: list[int]  # embedding inputs per request (1 for chat): what a reply must hold
    keep_files: bool = False
    cancelled: bool = False
    max_enqueued_tokens: int | None = None
    parts: list[PartState] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["format"] = FORMAT
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> JobState:
        """Read a saved state.

        Raises:
            ConfigurationError: the state is not one this version wrote.
        """
        if data.get("format") != FORMAT:
            raise ConfigurationError(
                f"{where} holds a batch job state of format {data.get('format')!r}; "
                f"this llmport reads {FORMAT}"
            )
        values = {key: value for key, value in data.items() if key != "format"}
        values["parts"] = [PartState(**part) for part in values.get("parts", [])]
        return cls(**values)
