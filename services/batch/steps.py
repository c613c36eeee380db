"""The steps of a batch job's parts, each made durable before and after the provider sees it.

The rule that makes a resumed job submit nothing twice: the state says what the provider may
know before the request that tells it. A part's batch is created only after ``creating`` and its
marker are saved; the marker goes into the batch's metadata, so that a job resumed after a crash
between the creation and the save finds that batch by listing, instead of creating another.
Results are saved before the provider's files are deleted, so none is lost either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ...domain.batch import BatchInfo
from ...domain.errors import ConfigurationError, LLMPortError
from ...domain.ports import BatchPort, BatchStateStore
from .state import JobState, PartState

__all__ = ["QUEUE_FULL", "Runner"]

_log = logging.getLogger("llmport.batch")

#: The error code of a batch refused because the provider's enqueued-token limit is reached.
QUEUE_FULL = "token_limit_exceeded"
# A part refused for the enqueued-token limit is created again after this many seconds, doubled
# at each refusal up to the cap, or as soon as another part of the job ends (room freed).
_REFUSED_WAIT = 30.0
_REFUSED_CAP = 900.0
# A resumed job looks for its batch among those created from this long before the job began.
_CLOCK_SKEW = 600.0
# pump() rounds at most: each round moves every part at least one step, or stops.
_ROUNDS = 16


class Runner:
    """Moves a job's parts on, one step at a time, saving the state around each step.

    Args:
        state: the job's state (changed in place).
        port: the provider's Files and Batches APIs.
        store: where the state and the kept files go.
        wall_clock: seconds since the epoch (the marker search and the token-limit waits).
    """

    def __init__(
        self, state: JobState, port: BatchPort, store: BatchStateStore, wall_clock: Callable[[], float]
    ) -> None:
        self.state = state
        self.port = port
        self.store = store
        self.wall_clock = wall_clock
        #: The last retryable failure, kept for wait()'s deadline error; None after a good round.
        self.last_error: LLMPortError | None = None

    def save(self) -> None:
        self.store.save(self.state.id, self.state.to_json())

    @property
    def ended(self) -> bool:
        """Whether every part's results are kept and its files at the provider dealt with."""
        return all(part.step == "done" for part in self.state.parts)

    def pump(self) -> None:
        """Take every step that needs no waiting on the provider (uploads, creations, downloads),
        and poll each part in progress once.

        A retryable failure (rate limit, 5xx, connection) stops the round and is kept in
        ``last_error``; the next round tries again.

        Raises:
            LLMPortError: a failure that trying again cannot mend (auth, a bad request).
        """
        try:
            for _ in range(_ROUNDS):
                moved = [self.step(part) for part in self.state.parts if part.step != "done"]
                if not any(moved):
                    break
            self.last_error = None
        except LLMPortError as error:
            if not error.retryable:
                raise
            _log.info("batch job %s: %s; trying again at the next poll", self.state.id, error)
            self.last_error = error

    def step(self, part: PartState) -> bool:
        """Take the part's next step; True when another may follow at once."""
        if part.step == "waiting" and self.wall_clock() < part.not_before:
            return False
        if part.step == "creating":
            found = self._find(part)
            return self._create(part, again=True) if found is None else self._submitted(part, found)
        if part.step == "submitted":
            return self._polled(part, self.port.retrieve(str(part.batch_id)))
        steps = {
            "planned": self._upload,
            "uploading": self._upload,
            "uploaded": self._create,
            "waiting": self._create,
            "downloaded": self._clean_up,
        }
        take = steps.get(part.step)
        return False if take is None else take(part)

    def _find(self, part: PartState) -> BatchInfo | None:
        """The batch a crash may have left created but unsaved, found by its marker."""
        found = self.port.find(
            {"llmport_part": str(part.marker)}, newer_than=self.state.created_at - _CLOCK_SKEW
        )
        if found is not None:
            _log.info("batch job %s: part %d's batch %s found again", self.state.id, part.index, found.id)
        return found

    def _upload(self, part: PartState) -> bool:
        data = self.store.get(self.state.id, part.input_name())
        if data is None:
            raise ConfigurationError(
                f"batch job {self.state.id}: the input of part {part.index} is missing from "
                f"{self.store.where(self.state.id)}"
            )
        name = f"llmport-{self.state.id}-{part.index:04d}.jsonl"
        found = None
        if part.step == "uploading":  # a crash may have left it uploaded but unsaved
            found = self.port.find_file(name, newer_than=self.state.created_at - _CLOCK_SKEW)
        else:
            part.step = "uploading"
            self.save()
        part.file_id = found or self.port.upload(name, data)
        part.step = "uploaded"
        self.save()
        return True

    def _queue_full(self, part: PartState) -> bool:
        """Whether creating ``part`` now would pass the job's ``max_enqueued_tokens`` (a part
        alone over it still goes: the provider then says whether it fits)."""
        limit = self.state.max_enqueued_tokens
        if limit is None:
            return False
        queued = sum(
            other.tokens
            for other in self.state.parts
            if other is not part and other.step in ("creating", "submitted")
        )
        return queued > 0 and queued + part.tokens > limit

    def _create(self, part: PartState, *, again: bool = False) -> bool:
        if not again and self._queue_full(part):
            return False  # created when a part in the queue ends
        if not again:
            part.tries += 1
            part.marker = f"{self.state.id}.{part.index}.{part.tries}"
            part.step = "creating"
            self.save()  # before the provider hears of it: a crash now is found by the marker
        metadata = {"llmport_job": self.state.id[:512], "llmport_part": str(part.marker)}
        info = self.port.create(self.state.kind, str(part.file_id), metadata)
        return self._submitted(part, info)

    def _submitted(self, part: PartState, info: BatchInfo) -> bool:
        part.batch_id = info.id
        part.step = "submitted"
        self._note(part, info)
        self.save()
        return info.terminal  # found ended after a restart: download at once

    def _polled(self, part: PartState, info: BatchInfo) -> bool:
        changed = (info.status, info.counts.completed, info.counts.failed) != (
            part.status,
            part.completed,
            part.failed,
        )
        self._note(part, info)
        if not info.terminal:
            if changed:
                self.save()
            return False
        if info.status == "failed" and any(problem.code == QUEUE_FULL for problem in info.errors):
            return self._refused(part, info)
        return self._download(part, info)

    def _refused(self, part: PartState, info: BatchInfo) -> bool:
        wait = min(_REFUSED_CAP, _REFUSED_WAIT * 2 ** max(0, part.tries - 1))
        _log.info(
            "batch job %s: part %d refused (enqueued-token limit); submitting it again as room frees",
            self.state.id,
            part.index,
        )
        part.step = "waiting"
        part.batch_id = None
        part.not_before = self.wall_clock() + wait
        part.errors = [[p.code, p.message, p.line] for p in info.errors]
        self.save()
        return False

    def _download(self, part: PartState, info: BatchInfo) -> bool:
        chunks = []
        files = [file_id for file_id in (info.output_file_id, info.error_file_id) if file_id]
        for file_id in files:
            data = self.port.download(file_id)
            chunks.append(data if data.endswith(b"\n") or not data else data + b"\n")
        self.store.put(self.state.id, part.output_name(), b"".join(chunks))
        part.result_files = files
        part.errors = [[p.code, p.message, p.line] for p in info.errors]
        part.step = "downloaded"
        self.save()  # the results are safe: only now may the provider's copies go
        for other in self.state.parts:
            if other.step == "waiting":
                other.not_before = 0.0  # this part's tokens left the queue: room for a refused one
        return True

    def _clean_up(self, part: PartState) -> bool:
        if not self.state.keep_files:
            for file_id in [part.file_id, *part.result_files]:
                if file_id:
                    self.port.delete_file(file_id)
        part.step = "done"
        self.save()
        return True

    def cancel(self) -> None:
        """Cancel every part: those at the provider are asked to stop (their finished results
        still come), those not yet there never go."""
        self.state.cancelled = True
        for part in self.state.parts:
            if part.step == "uploading":  # deleted with the part's files, if it got there
                name = f"llmport-{self.state.id}-{part.index:04d}.jsonl"
                part.file_id = self.port.find_file(name, newer_than=self.state.created_at - _CLOCK_SKEW)
            found = self._find(part) if part.step == "creating" else None
            if found is not None:
                self._submitted(part, found)
            elif part.step in ("planned", "uploading", "uploaded", "waiting", "creating"):
                part.status = "cancelled"
                self.store.put(self.state.id, part.output_name(), b"")
                part.step = "downloaded"
        self.save()
        for part in self.state.parts:
            if part.step == "submitted" and part.batch_id:
                self._note(part, self.port.cancel(part.batch_id))
        self.save()

    @staticmethod
    def _note(part: PartState, info: BatchInfo) -> None:
        part.status = info.status
        part.total = info.counts.total
        part.completed = info.counts.completed
        part.failed = info.counts.failed
