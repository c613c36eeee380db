"""A stateful Files + Batches server on 127.0.0.1, checking each batch as OpenAI and Azure OpenAI do.

It speaks the three URL shapes (OpenAI ``/v1/files``, ``/v1/batches``; Azure classic
``/openai/files``, ``/openai/batches`` with an ``api-version``; Azure v1 ``/openai/v1/...``),
takes multipart uploads with ``purpose=batch``, and validates each batch's file the way the real
APIs do: JSONL, a unique ``custom_id`` per line, ``method`` POST, a ``url`` equal to the batch's
endpoint, a ``model`` in every body and one model per file, at most ``max_requests`` lines and
``max_bytes`` bytes (OpenAI: 50,000 and 200 MB; Azure: 100,000 and 200 MB). A file that breaks a
rule makes the batch ``failed`` with the errors listed, as the real APIs do.

Batches move through ``validating``, ``in_progress``, ``finalizing`` and a terminal status; by
default each retrieve moves a batch one step (``auto=True``). With ``auto=False`` a test sets the
pace: :meth:`BatchServer.step`, :meth:`finish`, :meth:`expire`, :meth:`fail`. The output file lists
results in reverse input order (the real APIs promise no order). Every line of a batch created and
not refused is counted by its ``custom_id`` and body, so :meth:`duplicates` says how many requests
were submitted twice (a provider runs a batch whether or not anyone polls it). :meth:`hang_after`
carries out a request and holds its answer, so that a test can kill the client at that moment.
``enqueued_token_limit`` refuses a batch whose tokens would pass it, with the real
``token_limit_exceeded`` error in the batch's ``errors``. The routes are in batch_http.py, the
line checks and result bodies in batch_samples.py.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from http.server import ThreadingHTTPServer
from typing import Any

from batch_http import FilesAndBatchesRoutes, Handler
from batch_samples import (
    AZURE_LIMITS,
    OPENAI_LIMITS,
    STEPS,
    TERMINAL,
    Batch,
    ItemError,
    error,
    jsonl,
    key,
    problems,
    reply,
)

__all__ = ["AZURE_LIMITS", "OPENAI_LIMITS", "BatchServer", "ItemError"]


class BatchServer(FilesAndBatchesRoutes):
    """The Files and Batches APIs of OpenAI and Azure OpenAI, in memory, on a daemon thread.

    Args:
        api_key: the key each request must carry (``Authorization: Bearer`` or ``api-key``).
        auto: each retrieve moves a batch one step; False: only the test's calls move batches.
        limits: (requests, bytes) per file, per shape; default the real ones.
        enqueued_token_limit: the most tokens the batches not yet terminal may hold together.
        item_error: which lines fail, and how.
        reply_text: a chat reply's text for line number N of its batch (default ``echo: <prompt>``).
    """

    def __init__(
        self,
        *,
        api_key: str = "sk-batch-test-key-000000000000000000",
        auto: bool = True,
        limits: Mapping[str, tuple[int, int]] | None = None,
        enqueued_token_limit: int | None = None,
        item_error: ItemError | None = None,
        reply_text: Callable[[int], str] | None = None,
    ) -> None:
        self.api_key = api_key
        self.auto = auto
        self.limits = {"openai": OPENAI_LIMITS, "azure": AZURE_LIMITS, "azure_v1": AZURE_LIMITS}
        self.limits.update(limits or {})
        self.enqueued_token_limit = enqueued_token_limit
        self.item_error = item_error
        self.reply_text = reply_text
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, Batch] = {}
        self.uploads = 0
        self.creates = 0
        self.deleted: list[str] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.accepted: Counter[str] = Counter()  # custom_id + body of each line put in progress
        self.lock = threading.RLock()
        self._hangs: list[tuple[str, str, threading.Event]] = []
        self._faults: list[tuple[str, str, int]] = []
        self._release = threading.Event()
        self._ids = itertools.count(1)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02})
        self._thread.daemon = True

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> BatchServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> BatchServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # What a test reads.

    def duplicates(self) -> int:
        """How many lines were submitted more than once (same custom_id and body) in batches that
        were not refused: the requests a provider would run, and bill, twice."""
        with self.lock:
            return sum(count - 1 for count in self.accepted.values() if count > 1)

    def live_files(self) -> list[str]:
        with self.lock:
            return sorted(self.files)

    def statuses(self) -> list[str]:
        with self.lock:
            return [b.status for b in self.batches.values()]

    # What a test does to set the pace.

    def hang_after(self, method: str, path_part: str) -> threading.Event:
        """The next ``method`` request whose path contains ``path_part`` is carried out, then its
        answer held until :meth:`release`: a client killed meanwhile never learns what it did.
        Returns the event set when that request has been carried out."""
        reached = threading.Event()
        with self.lock:
            self._hangs.append((method, path_part, reached))
            self._release.clear()  # held answers from before were let go by release()
        return reached

    def fail_next(self, method: str, path_part: str, status: int) -> None:
        """Answer the next ``method`` request whose path contains ``path_part`` with ``status``
        (an error body of the real shape), without carrying it out."""
        with self.lock:
            self._faults.append((method, path_part, status))

    def release(self) -> None:
        """Let every held answer go (to a client that may be gone), and hold no more."""
        self._release.set()

    def hold_if_asked(self, method: str, path: str) -> None:
        with self.lock:
            hang = next((h for h in self._hangs if h[0] == method and h[1] in path), None)
            if hang is None:
                return
            self._hangs.remove(hang)
        hang[2].set()
        self._release.wait(30)

    def step(self, batch_id: str | None = None) -> None:
        """Move one batch (or every batch not yet terminal) one step on."""
        with self.lock:
            for batch in self._chosen(batch_id):
                self._advance(batch)

    def finish(self, batch_id: str | None = None) -> None:
        """Run batches to their end."""
        with self.lock:
            for batch in self._chosen(batch_id):
                while batch.status not in TERMINAL and batch.status != "cancelling":
                    self._advance(batch)
                if batch.status == "cancelling":
                    self._end(batch, "cancelled", len(batch.lines) // 2)

    def expire(self, batch_id: str | None = None, *, done: int = 0) -> None:
        """End batches as ``expired`` once their first ``done`` lines have run."""
        with self.lock:
            for batch in self._chosen(batch_id):
                if batch.status == "validating":
                    self._advance(batch)
                if batch.status not in TERMINAL:
                    self._end(batch, "expired", done)

    def fail(self, batch_id: str | None = None, *, code: str = "server_error", message: str = "boom") -> None:
        with self.lock:
            for batch in self._chosen(batch_id):
                batch.errors.append({"code": code, "message": message, "line": None, "param": None})
                batch.status = "failed"

    def _chosen(self, batch_id: str | None) -> list[Batch]:
        if batch_id is not None:
            return [self.batches[batch_id]]
        return [b for b in self.batches.values() if b.status not in TERMINAL]

    # The batch's life.

    def _advance(self, batch: Batch) -> None:
        if batch.status == "validating":
            self._validate(batch)
            return
        if batch.status == "cancelling":
            self._end(batch, "cancelled", len(batch.lines) // 2)
        elif batch.status == "finalizing":
            self._end(batch, "completed", len(batch.lines))
        elif batch.status in STEPS:
            batch.status = STEPS[batch.status]

    def _validate(self, batch: Batch) -> None:
        data = self.files.get(batch.input_file_id)
        found = problems(
            data["bytes"] if data else b"", batch.lines, batch.endpoint, self.limits[batch.shape]
        )
        if data is None:
            found = [error("invalid_file", "the input file does not exist")]
        if not found and self.enqueued_token_limit is not None:
            enqueued = sum(
                b.tokens
                for b in self.batches.values()
                if b is not batch and b.status in ("in_progress", "finalizing")
            )
            if enqueued + batch.tokens > self.enqueued_token_limit:
                model = batch.lines[0]["body"].get("model") if batch.lines else "?"
                found = [
                    error(
                        "token_limit_exceeded",
                        f"Enqueued token limit reached for {model} in organization org-loopback. Limit: "
                        f"{self.enqueued_token_limit:,} enqueued tokens. Please try again once some "
                        "in_progress batches have been completed.",
                    )
                ]
        if found:
            for line in batch.lines:  # refused: none of its requests will run
                self.accepted[key(line)] -= 1
            self.accepted += Counter()  # drops the zeros
            batch.errors = found[:100]
            batch.status = "failed"
            batch.lines = []
            return
        batch.status = "in_progress"

    def _end(self, batch: Batch, status: str, done: int) -> None:
        out: list[bytes] = []
        bad: list[bytes] = []
        batch.failed = 0
        for number, line in enumerate(batch.lines):
            custom_id = line["custom_id"]
            if number >= done:
                self.accepted[key(line)] -= 1  # never ran: not billed, may be sent again
                code = "batch_expired" if status == "expired" else "batch_cancelled"
                what = "before the completion window expired" if status == "expired" else "before cancel"
                row = {
                    "custom_id": custom_id,
                    "response": None,
                    "error": {"code": code, "message": f"This request could not be executed {what}."},
                }
                bad.append(jsonl(row))
                continue
            failure = self.item_error(custom_id, line["body"]) if self.item_error else None
            if failure is None:
                answer = reply(batch.endpoint, line["body"], number, self.reply_text)
                row = {
                    "id": f"batch_req_{number}",
                    "custom_id": custom_id,
                    "response": {
                        "status_code": 200,
                        "request_id": f"req_{batch.id}_{number}",
                        "body": answer,
                    },
                    "error": None,
                }
                out.append(jsonl(row))
            else:
                batch.failed += 1
                row = {
                    "id": f"batch_req_{number}",
                    "custom_id": custom_id,
                    "response": {
                        "status_code": failure[0],
                        "request_id": f"req_{batch.id}_{number}",
                        "body": failure[1],
                    },
                    "error": None,
                }
                bad.append(jsonl(row))
        self.accepted += Counter()  # drops the zeros
        batch.done = min(done, len(batch.lines))
        out.reverse()  # the real APIs promise no order
        if out:
            batch.output_file_id = self._store(b"".join(out), "batch_output")
        if bad:
            batch.error_file_id = self._store(b"".join(bad), "batch_output")
        batch.status = status

    def _store(self, data: bytes, purpose: str, filename: str = "output.jsonl") -> str:
        file_id = f"file-{next(self._ids):06d}"
        self.files[file_id] = {
            "bytes": data,
            "purpose": purpose,
            "filename": filename,
            "created_at": int(time.time()),
        }
        return file_id
