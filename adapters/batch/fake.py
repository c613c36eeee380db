"""FakeBatch: the Batch API in this process's memory, answering through a chat and an embedding port.

What ``client.batch`` uses on the ``fake`` provider: a batch runs the moment it is created (its
requests go to the fake chat and embedding adapters, scripts and all), so that code built on
``client.batch`` runs in tests and examples offline. Its files and batches live as long as the
object; a job resumed in another process finds nothing here.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ...domain.batch import BatchCounts, BatchInfo, BatchKind, BatchLimits
from ...domain.errors import LLMPortError, NotFoundError, ProviderError
from ...domain.models import ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse
from ...domain.ports import ChatPort, EmbeddingPort

__all__ = ["FakeBatch"]

Reply = ChatResponse | EmbeddingResponse | LLMPortError


class FakeBatch:
    """Files and batches in memory; each batch completes when created.

    Args:
        chat: answers the chat requests (e.g. a FakeChat).
        embeddings: answers the embedding requests (e.g. a FakeEmbeddings).
        limits: what one batch may hold (default: OpenAI's).
    """

    provider = "fake"

    def __init__(
        self, chat: ChatPort, embeddings: EmbeddingPort, *, limits: BatchLimits | None = None
    ) -> None:
        self._chat = chat
        self._embeddings = embeddings
        self._limits = limits or BatchLimits(50_000, 200 * 1024 * 1024, 50_000)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._requests: list[ChatRequest | EmbeddingRequest] = []
        self._replies: list[Reply] = []
        self.files: dict[str, tuple[str, bytes]] = {}
        self.batches: dict[str, BatchInfo] = {}

    def limits(self, kind: BatchKind) -> BatchLimits:
        """The limits given (every kind is batched)."""
        return self._limits

    def line(self, custom_id: str, request: ChatRequest | EmbeddingRequest, kind: BatchKind) -> bytes:
        """A line that names the request kept in memory."""
        with self._lock:
            self._requests.append(request)
            ref = len(self._requests) - 1
        return json.dumps({"custom_id": custom_id, "request": ref}).encode() + b"\n"

    def upload(self, name: str, data: bytes) -> str:
        """Keep the file; return its id."""
        file_id = f"file-fake-{next(self._ids)}"
        self.files[file_id] = (name, data)
        return file_id

    def find_file(self, name: str, *, newer_than: float) -> str | None:
        """The newest file called ``name``, or None."""
        found = [file_id for file_id, (kept, _) in self.files.items() if kept == name]
        return found[-1] if found else None

    def create(self, kind: BatchKind, file_id: str, metadata: Mapping[str, str]) -> BatchInfo:
        """Run every request of the file now; the batch is created completed."""
        if file_id not in self.files:
            raise NotFoundError(f"no file {file_id}", provider=self.provider)
        rows = [json.loads(raw) for raw in self.files[file_id][1].splitlines() if raw.strip()]
        out = [self._run(row) for row in rows]
        failed = sum(isinstance(self._replies[int(row["reply"])], LLMPortError) for row in out)
        output_id = self.upload("output.jsonl", b"".join(json.dumps(row).encode() + b"\n" for row in out))
        batch = BatchInfo(
            id=f"batch-fake-{next(self._ids)}",
            status="completed",
            input_file_id=file_id,
            output_file_id=output_id,
            counts=BatchCounts(len(rows), len(rows) - failed, failed),
            metadata=dict(metadata),
        )
        self.batches[batch.id] = batch
        return batch

    def _run(self, row: Mapping[str, int | str]) -> dict[str, int | str]:
        request = self._requests[int(row["request"])]
        reply: Reply
        try:
            if isinstance(request, EmbeddingRequest):
                reply = self._embeddings.embed(request)
            else:
                reply = self._chat.complete(request)
        except LLMPortError as error:
            reply = error
        with self._lock:
            self._replies.append(reply)
            return {"custom_id": row["custom_id"], "reply": len(self._replies) - 1}

    def retrieve(self, batch_id: str) -> BatchInfo:
        """The batch, or NotFoundError."""
        if batch_id not in self.batches:
            raise NotFoundError(f"no batch {batch_id}", provider=self.provider)
        return self.batches[batch_id]

    def find(self, metadata: Mapping[str, str], *, newer_than: float) -> BatchInfo | None:
        """The newest batch whose metadata holds ``metadata``, or None."""
        found = [b for b in self.batches.values() if all(b.metadata.get(k) == v for k, v in metadata.items())]
        return found[-1] if found else None

    def cancel(self, batch_id: str) -> BatchInfo:
        """Batches here are done as soon as they exist: nothing to cancel."""
        return self.retrieve(batch_id)

    def download(self, file_id: str) -> bytes:
        """A file's content."""
        if file_id not in self.files:
            raise NotFoundError(f"no file {file_id}", provider=self.provider)
        return self.files[file_id][1]

    def delete_file(self, file_id: str) -> None:
        """Forget a file."""
        self.files.pop(file_id, None)

    def result(
        self,
        record: Mapping[str, object],
        kind: BatchKind,
        expected: int,
        parser: Callable[[str], object] | None = None,
    ) -> ChatResponse | EmbeddingResponse | LLMPortError:
        """The reply (or error) the line names."""
        ref = record.get("reply")
        if not isinstance(ref, int) or not 0 <= ref < len(self._replies):
            return ProviderError(
                "this fake batch's result is gone (another process?)", provider=self.provider
            )
        return self._replies[ref]


if TYPE_CHECKING:
    from ...domain.ports import BatchPort

    _batch: type[BatchPort] = FakeBatch
