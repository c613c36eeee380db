"""A finished job's results in input order: each request's reply, or the domain error for it."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Union

from ...domain.errors import BadRequestError, LLMPortError, ProviderError, RequestTimeoutError
from ...domain.models import ChatResponse, EmbeddingResponse
from ...domain.ports import BatchPort, BatchStateStore
from .state import JobState, PartState, rows_of

__all__ = ["Result", "collect"]

#: Reads a structured reply's text into ``reply.parsed`` (a request's ``response_format.parser``).
Parser = Callable[[str], Any]
Result = Union[ChatResponse, EmbeddingResponse, LLMPortError]  # noqa: UP007  # a runtime alias on 3.10


def collect(
    state: JobState, port: BatchPort, store: BatchStateStore, parsers: Sequence[Parser | None] = ()
) -> list[Result]:
    """Every row's result: read from the parts' kept result files, a later part (a retry) over an
    earlier one; a row no result line names gets the error its batch's end explains."""
    results: list[Result | None] = [None] * state.total
    for part in state.parts:
        if not part.ended:
            continue
        seen = _read(part, state, (port, store, parsers), results)
        missing = [row for row in rows_of(part.ranges) if row not in seen]
        for row in missing:
            results[row] = _unanswered(part, state.provider)  # one each: a caller may raise it
    return [
        result if result is not None else ProviderError("no batch ran this request", provider=state.provider)
        for result in results
    ]


def _read(
    part: PartState,
    state: JobState,
    using: tuple[BatchPort, BatchStateStore, Sequence[Parser | None]],
    results: list[Result | None],
) -> set[int]:
    port, store, parsers = using
    seen: set[int] = set()
    blob = store.get(state.id, part.output_name()) or b""
    for raw in blob.splitlines():
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
            row = int(record["custom_id"])
        except (ValueError, LookupError, TypeError):
            continue  # not a line of ours: a row it does not name is reported as unanswered
        if not 0 <= row < state.total:
            continue
        parser = parsers[row] if row < len(parsers) else None
        results[row] = port.result(record, state.kind, state.inputs[row], parser)
        seen.add(row)
    return seen


def _unanswered(part: PartState, provider: str) -> LLMPortError:
    """The error of the rows a part's batch ended without answering."""
    said = "; ".join(f"{code}: {message}" for code, message, *_ in part.errors)[:500]
    code = str(part.errors[0][0]) if part.errors else None
    if part.status == "failed":
        return BadRequestError(f"the batch failed: {said or 'no reason given'}", provider=provider, code=code)
    if part.status == "expired":
        return RequestTimeoutError(
            "the batch expired (its 24 h window ended) before this request ran",
            provider=provider,
            code="batch_expired",
            sent=False,
        )
    if part.status == "cancelled":
        return ProviderError(
            "the batch was cancelled before this request ran", provider=provider, code="batch_cancelled"
        )
    return ProviderError(
        f"the batch ended {part.status} without a result for this request", provider=provider
    )
