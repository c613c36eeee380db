"""BatchService: plans a job (lines, split, state), submits it, and picks up a saved one."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from ...domain.batch import BatchKind, BatchLimits
from ...domain.errors import ConfigurationError, LLMPortError, ValidationError
from ...domain.models import ChatRequest, EmbeddingRequest
from ...domain.ports import BatchPort, BatchStateStore, TokenCounter
from .job import BatchJob, Recorder, Timing
from .results import Parser
from .split import split
from .state import JobState, PartState
from .steps import Runner

__all__ = ["BatchService", "StateArg"]

#: Where a job's state goes: a directory (str or path), a store, or None for the client's default.
StateArg = str | os.PathLike[str] | BatchStateStore | None
#: Makes a file store for a directory (the composition root passes the adapter's class).
FileStores = Callable[[Path], BatchStateStore]
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class BatchService:
    """Runs batch jobs on one provider's Batch API, keeping their state in a store.

    Args:
        port: the provider's Files and Batches APIs, or None where there is none (the fake
            provider, several deployments): every call then raises ConfigurationError.
        store: where jobs' state goes when a call names no other place.
        file_store: makes a file store for a directory given as ``state=``.
        timing: (monotonic clock, sleep, random) for polling.
        wall_clock: seconds since the epoch, for the state.
        limits: what one batch may hold, instead of the provider's limits (tests, a lower quota).
        counter: counts a job's prompt tokens for ``max_enqueued_tokens``; None: a token per
            4 bytes of its lines.
    """

    def __init__(
        self,
        port: BatchPort | None,
        store: BatchStateStore,
        *,
        file_store: FileStores,
        timing: Timing,
        wall_clock: Callable[[], float],
        limits: BatchLimits | None = None,
        counter: TokenCounter | None = None,
    ) -> None:
        self._counter = counter
        self._port = port
        self._store = store
        self._file_store = file_store
        self._timing = timing
        self._wall_clock = wall_clock
        self._limits = limits

    def port(self) -> BatchPort:
        if self._port is None:
            raise ConfigurationError(
                "this client has no Batch API: batch jobs need provider openai, azure or azure_v1 "
                "with one deployment (not fake, nor several routed deployments)"
            )
        return self._port

    def store_for(self, state: StateArg) -> BatchStateStore:
        """The store ``state`` names."""
        if state is None:
            return self._store
        if isinstance(state, (str, os.PathLike)):
            return self._file_store(Path(state))
        return state

    def submit(
        self,
        kind: BatchKind,
        requests: Sequence[ChatRequest | EmbeddingRequest],
        *,
        job_id: str | None,
        state: StateArg,
        keep_files: bool,
        record: Recorder | None,
        max_enqueued_tokens: int | None = None,
    ) -> BatchJob:
        """Plan the job, save it, then upload and create its batches; return the job running.

        With ``max_enqueued_tokens``, a batch is created only while the job's batches in the
        provider's queue hold fewer tokens (counted as the provider counts a prompt, or an
        embedding's inputs); the others wait for room.

        Raises:
            ConfigurationError: the provider has no batches for ``kind``, or ``job_id`` is taken.
            ValidationError: no requests, or one too large for a batch.
        """
        port = self.port()
        limits = self._limits or port.limits(kind)  # refuses an unbatched kind before any upload
        if not requests:
            raise ValidationError("a batch job needs at least one request")
        store = self.store_for(state)
        job_id = _checked_id(job_id) if job_id is not None else f"batch-{uuid.uuid4().hex[:20]}"
        if store.load(job_id) is not None:
            raise ConfigurationError(
                f"batch job {job_id!r} already exists at {store.where(job_id)}: resume it with "
                f"client.batch.resume({job_id!r}), or choose another job_id"
            )
        lines = [port.line(str(row), request, kind) for row, request in enumerate(requests)]
        inputs = [len(r.inputs) if isinstance(r, EmbeddingRequest) else 1 for r in requests]
        pieces = split([len(line) for line in lines], inputs, limits)
        model = requests[0].model or ""
        job = JobState(
            job_id, kind, model, port.provider, self._wall_clock(), len(requests), inputs, keep_files
        )
        job.max_enqueued_tokens = max_enqueued_tokens
        tokens = self._tokens(requests, lines) if max_enqueued_tokens is not None else None
        for index, (start, end) in enumerate(pieces):
            part = PartState(index, [[start, end]], end - start)
            part.tokens = sum(tokens[start:end]) if tokens is not None else 0
            store.put(job_id, part.input_name(), b"".join(lines[start:end]))
            job.parts.append(part)
        store.save(job_id, job.to_json())  # from here on the job can be resumed
        return self._started(job, port, store, (record, _parsers(requests)))

    def _tokens(
        self, requests: Sequence[ChatRequest | EmbeddingRequest], lines: Sequence[bytes]
    ) -> list[int]:
        """What each request adds to the provider's queue of enqueued tokens: its prompt tokens."""
        counter = self._counter
        if counter is None:
            return [len(line) // 4 for line in lines]
        return [
            counter.count_chat(request).tokens
            if isinstance(request, ChatRequest)
            else counter.count_texts(request.inputs, request.model or "").total
            for request in requests
        ]

    def resume(self, job: str | os.PathLike[str], state: StateArg, record: Recorder | None) -> BatchJob:
        """Pick up a saved job and take whatever steps are due (nothing is submitted twice).

        Args:
            job: the job's id, or the directory its state is in (``job.where``).
            state: where it was kept, when not the default store (nor ``job`` a directory).

        Raises:
            ConfigurationError: no job is saved there.
        """
        store, job_id = self._located(job, state)
        saved = store.load(job_id)
        if saved is None:
            raise ConfigurationError(
                f"no batch job {job_id!r} at {store.where(job_id)}: nothing was submitted under it, "
                "or its state is kept elsewhere (pass state=)"
            )
        loaded = JobState.from_json(saved, store.where(job_id))
        return self._started(loaded, self.port(), store, (record, []))

    def _located(self, job: str | os.PathLike[str], state: StateArg) -> tuple[BatchStateStore, str]:
        path = Path(job)
        if state is None and (path / "state.json").is_file():
            return self._file_store(path.parent), path.name
        return self.store_for(state), _checked_id(os.fspath(job))

    def _started(
        self,
        job: JobState,
        port: BatchPort,
        store: BatchStateStore,
        reading: tuple[Recorder | None, Sequence[Parser | None]],
    ) -> BatchJob:
        runner = Runner(job, port, store, self._wall_clock)
        try:
            runner.pump()
        except LLMPortError as error:
            # The job is saved: say where, so that it can be resumed once the cause is fixed.
            error.message = (
                f"{error.message} (batch job {job.id} is saved in {store.where(job.id)}: "
                f"client.batch.resume({job.id!r}) goes on from there)"
            )
            error.args = (error.message,)
            raise
        return BatchJob(runner, self._timing, *reading)


def _parsers(requests: Sequence[ChatRequest | EmbeddingRequest]) -> list[Parser | None]:
    """Each request's structured-output parser; none at all when no request has one."""
    parsers = [
        r.response_format.parser if isinstance(r, ChatRequest) and r.response_format else None
        for r in requests
    ]
    return parsers if any(parsers) else []


def _checked_id(job_id: str) -> str:
    if not job_id or len(job_id) > 200 or not set(job_id) <= _ID_CHARS or job_id in (".", ".."):
        raise ValidationError(
            f"job_id {job_id!r:.80} must be 1-200 letters, digits, '-', '_' or '.' "
            "(it names a directory or a key)"
        )
    return job_id
