"""BatchJob: what client.batch.chat and embed return, one handle over every provider batch of a job."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from ...domain.batch import BatchCounts
from ...domain.errors import LLMPortError, RequestTimeoutError, ValidationError
from ...domain.models import ChatResponse, EmbeddingResponse
from ...domain.replies import Cost, Usage
from .results import Parser, Result, collect
from .split import split
from .state import PartState, rows_of
from .steps import Runner

__all__ = ["BatchJob", "Progress", "Timing"]

#: Called after each poll with the job's counts (``progress=`` of :meth:`BatchJob.wait`).
Progress = Callable[[BatchCounts], None]
#: What a job waits with: (monotonic clock, sleep, random in [0, 1)).
Timing = tuple[Callable[[], float], Callable[[float], None], Callable[[], float]]
#: What a job's replies are counted with: (the model asked for, a reply) -> the reply, priced.
Recorder = Callable[[str, Any], Any]


class BatchJob:
    """One batch job: its requests in one or more provider batches, acting as one.

    Its state is saved as it goes (``where``); ``client.batch.resume(job.id)`` (or the path)
    picks it up in another process after a crash, with nothing submitted twice.
    """

    def __init__(
        self,
        runner: Runner,
        timing: Timing,
        record: Recorder | None = None,
        parsers: Sequence[Parser | None] = (),
    ) -> None:
        self._runner = runner
        # Each row's structured-output parser: in this process only (a resumed job has none).
        self._parsers = parsers
        self._clock, self._sleep, self._rand = timing
        self._record = record
        self._results: list[Result] | None = None

    @property
    def id(self) -> str:
        """The job's id: what :meth:`client.batch.resume` takes."""
        return self._runner.state.id

    @property
    def where(self) -> str:
        """Where the job's state is kept (a directory, or a Redis key)."""
        return self._runner.store.where(self.id)

    @property
    def batch_ids(self) -> list[str]:
        """The provider batches the job has now (one per part; a retry adds more)."""
        return [part.batch_id for part in self._runner.state.parts if part.batch_id]

    @property
    def status(self) -> str:
        """``in_progress`` until every batch has ended, then ``completed`` (every request has its
        reply), ``partial`` (some failed, expired or were cancelled: see :meth:`results`), or
        ``cancelled`` (after :meth:`cancel`)."""
        state = self._runner.state
        if not self._runner.ended:
            return "cancelling" if state.cancelled else "in_progress"
        if state.cancelled:
            return "cancelled"
        counts = self.counts
        return "completed" if counts.failed == 0 else "partial"

    @property
    def counts(self) -> BatchCounts:
        """Requests in the job, and how many have a reply or an error so far."""
        if self._results is not None:
            failed = sum(isinstance(result, LLMPortError) for result in self._results)
            return BatchCounts(len(self._results), len(self._results) - failed, failed)
        state = self._runner.state
        completed = sum(part.completed for part in state.parts if part.retry_of is None)
        failed = sum(part.failed for part in state.parts if part.retry_of is None)
        return BatchCounts(state.total, completed, failed)

    def wait(
        self,
        *,
        poll_interval: float = 10.0,
        deadline: float | None = None,
        progress: bool | Progress = False,
        max_poll_interval: float = 120.0,
    ) -> BatchJob:
        """Poll until every batch of the job has ended, and keep their results; return the job.

        Polls back off from ``poll_interval`` to ``max_poll_interval`` (x1.5 each time, with
        jitter). Failures that may pass (rate limits, 5xx, connections) are tried again at the
        next poll.

        Args:
            poll_interval: seconds between the first polls.
            deadline: give up waiting after this many seconds (the job goes on at the provider).
            progress: True for a text progress bar on stderr, or a callable given the counts.
            max_poll_interval: the longest wait between polls.

        Raises:
            RequestTimeoutError: ``deadline`` passed first; ``wait`` again or resume later.
            LLMPortError: a failure that trying again cannot mend.
        """
        if poll_interval <= 0 or max_poll_interval <= 0:
            raise ValidationError("poll_interval and max_poll_interval must be more than 0 seconds")
        started = self._clock()
        interval = poll_interval
        report = _reporter(progress, self._runner.state.total)
        try:
            while True:
                self._runner.pump()
                report(self.counts)
                if self._runner.ended:
                    return self
                pause = interval * (0.75 + self._rand() / 2)
                if deadline is not None and self._clock() - started + pause > deadline:
                    raise self._late(deadline)
                self._sleep(pause)
                interval = min(max_poll_interval, interval * 1.5)
        finally:
            report(None)

    def _late(self, deadline: float) -> RequestTimeoutError:
        last = self._runner.last_error
        why = f"; last failure: {last}" if last is not None else ""
        return RequestTimeoutError(
            f"batch job {self.id} did not end within {deadline} s{why}; it goes on: wait() again, or "
            f"client.batch.resume({self.id!r}) later",
            provider=self._runner.state.provider,
            sent=True,
        )

    def results(self, **wait: Any) -> list[ChatResponse | EmbeddingResponse | LLMPortError]:
        """Every request's result, in input order: its reply, or the domain error for it.

        A failed request never hides the others. Waits for the job first (``wait``'s keywords).
        The job's usage is counted in ``client.usage`` once, at the batch price.
        """
        if self._results is None:
            if not self._runner.ended:
                self.wait(**wait)
            state = self._runner.state
            results = collect(state, self._runner.port, self._runner.store, self._parsers)
            if self._record is not None:
                results = [
                    result if isinstance(result, LLMPortError) else self._record(state.model, result)
                    for result in results
                ]
            self._results = results
        return list(self._results)

    @property
    def usage(self) -> Usage:
        """Tokens used by the replies received (after :meth:`results`)."""
        total = Usage()
        for result in self._results or ():
            if not isinstance(result, LLMPortError):
                total = total + result.usage
        return total

    @property
    def cost(self) -> float | None:
        """The replies' estimated cost at the batch price, or None when nothing is priced."""
        costs: list[Cost] = [
            result.cost
            for result in self._results or ()
            if not isinstance(result, LLMPortError) and result.cost is not None
        ]
        return sum(cost.total for cost in costs) if costs else None

    def cancel(self) -> BatchJob:
        """Cancel the job: batches running stop (what finished is still returned); parts not yet
        submitted never are. :meth:`wait` then collects what there is."""
        self._runner.cancel()
        return self

    def retry_failed(self) -> BatchJob:
        """Submit again, in new batches, only the requests whose result is an error; return the job.

        Their results replace the errors once the new batches end (``wait``, ``results``).
        """
        results = self.results() if self._results is None else self._results
        failed = [row for row, result in enumerate(results) if isinstance(result, LLMPortError)]
        if failed:
            self._resubmit(failed)
            self._results = None
        return self

    def _resubmit(self, rows: list[int]) -> None:
        state, runner = self._runner.state, self._runner
        lines = _lines_by_row(runner, [part for part in state.parts if part.retry_of is None])
        chosen = [lines[row] for row in rows]
        limits = runner.port.limits(state.kind)
        pieces = split([len(line) for line in chosen], [state.inputs[row] for row in rows], limits)
        first = len(state.parts)
        for offset, (start, end) in enumerate(pieces):
            part = PartState(first + offset, _ranges(rows[start:end]), end - start, retry_of=first)
            runner.store.put(state.id, part.input_name(), b"".join(chosen[start:end]))
            state.parts.append(part)
        state.cancelled = False
        runner.save()
        runner.pump()

    def __repr__(self) -> str:
        counts = self.counts
        return f"<BatchJob {self.id} {self.status} {counts.completed + counts.failed}/{counts.total}>"


def _lines_by_row(runner: Runner, parts: list[PartState]) -> dict[int, bytes]:
    lines: dict[int, bytes] = {}
    for part in parts:
        data = runner.store.get(runner.state.id, part.input_name()) or b""
        for row, line in zip(rows_of(part.ranges), data.splitlines(keepends=True), strict=False):
            lines[row] = line
    return lines


def _ranges(rows: list[int]) -> list[list[int]]:
    ranges: list[list[int]] = []
    for row in rows:
        if ranges and ranges[-1][1] == row:
            ranges[-1][1] = row + 1
        else:
            ranges.append([row, row + 1])
    return ranges


def _reporter(progress: bool | Progress, total: int) -> Callable[[BatchCounts | None], None]:
    """What shows the job's progress: nothing, a text bar on stderr, or the caller's callable;
    called with None when waiting ends."""
    if callable(progress):
        given = progress
        return lambda counts: None if counts is None else given(counts)
    if not progress:
        return lambda counts: None

    def show(counts: BatchCounts | None) -> None:
        if counts is None:
            sys.stderr.write("\n")
            return
        finished = counts.completed + counts.failed
        filled = int(30 * finished / total) if total else 30
        sys.stderr.write(
            f"\rbatch [{'#' * filled}{'.' * (30 - filled)}] {finished}/{total} ({counts.failed} failed)"
        )
        sys.stderr.flush()

    return show
