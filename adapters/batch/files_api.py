"""BatchAdapter: the provider's Files and Batches APIs through the chat adapter's own SDK client."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ...domain.batch import BatchCounts, BatchInfo, BatchKind, BatchLimits, BatchProblem
from ...domain.errors import ConfigurationError, LLMPortError, NotFoundError
from ...domain.models import ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse
from ..llm.wire.adapter import WireAdapter
from ..llm.wire.errors import translated
from .lines import request_body, request_line, result_of

__all__ = ["AZURE_BATCH_LIMITS", "OPENAI_BATCH_LIMITS", "BatchAdapter"]

T = TypeVar("T")

_MB = 1024 * 1024
#: OpenAI: 50,000 requests and 200 MB per input file; an embeddings batch at most 50,000 inputs.
OPENAI_BATCH_LIMITS = BatchLimits(max_requests=50_000, max_bytes=200 * _MB, max_embedding_inputs=50_000)
#: Azure OpenAI Global and Data Zone Batch: 100,000 requests and 200 MB per input file.
AZURE_BATCH_LIMITS = BatchLimits(max_requests=100_000, max_bytes=200 * _MB)

# The endpoint a batch (and each of its lines) names, per provider and kind. Azure's classic and
# v1 APIs take the path without /v1, and have no batch deployments for embeddings.
_ENDPOINTS: dict[str, dict[BatchKind, str]] = {
    "openai": {
        "chat": "/v1/chat/completions",
        "responses": "/v1/responses",
        "embeddings": "/v1/embeddings",
    },
    "azure": {"chat": "/chat/completions", "responses": "/responses"},
    "azure_v1": {"chat": "/chat/completions", "responses": "/responses"},
}
_PAGE = 100  # batches per list page when a resumed job looks for its batch
_PAGES = 20  # at most this many pages: a batch older than the job is never what is looked for


class BatchAdapter:
    """Files and Batches over the SDK client of an OpenAI or Azure adapter (its auth, URL shape,
    api-version, headers and TLS), with errors mapped by the same table as chat.

    Args:
        wire: the provider's chat adapter; its SDK client is shared, not copied.
        limits: what one batch may hold, instead of the provider's documented limits.
    """

    def __init__(self, wire: WireAdapter, *, limits: BatchLimits | None = None) -> None:
        self._wire = wire
        self.provider = wire.provider
        self._endpoints = _ENDPOINTS.get(self.provider, _ENDPOINTS["openai"])
        default = OPENAI_BATCH_LIMITS if self.provider == "openai" else AZURE_BATCH_LIMITS
        self._limits = limits or default

    def limits(self, kind: BatchKind) -> BatchLimits:
        """What one batch of ``kind`` may hold.

        Raises:
            ConfigurationError: the provider has no batch deployments for ``kind``.
        """
        self._endpoint(kind)
        return self._limits

    def _endpoint(self, kind: BatchKind) -> str:
        endpoint = self._endpoints.get(kind)
        if endpoint is None:
            raise ConfigurationError(
                f"{self.provider} has no Batch API for {kind} (Azure OpenAI's Global and Data Zone "
                "Batch deployments serve chat and responses models only); embed with client.embed(), "
                "or batch embeddings on OpenAI",
                provider=self.provider,
            )
        return endpoint

    def line(self, custom_id: str, request: ChatRequest | EmbeddingRequest, kind: BatchKind) -> bytes:
        """One JSONL line for ``request``; its model is the deployment name on Azure.

        Raises:
            ConfigurationError: the request has no model.
            ValidationError: the request does not fit ``kind``.
        """
        model = request.model
        if not model:
            raise ConfigurationError("no model given: pass model= or set chat_model / embedding_model")
        field = self._wire._max_tokens.field(model)
        body = request_body(request, kind, model, field)
        return request_line(custom_id, self._endpoint(kind), body)

    def upload(self, name: str, data: bytes) -> str:
        """Upload a JSONL input file with ``purpose=batch``; return its id."""
        created = self._call(
            lambda sdk: sdk.files.create(file=(name, data, "application/jsonl"), purpose="batch")
        )
        return str(created.id)

    def find_file(self, name: str, *, newer_than: float) -> str | None:
        """The newest batch input file called ``name`` uploaded after ``newer_than``, or None."""
        after: str | None = None
        for _ in range(_PAGES):
            page = self._call(functools.partial(_files_page, after=after))
            for file in page.data:
                if (file.created_at or 0) < newer_than:
                    return None  # newest first: the rest is older still
                if file.filename == name:
                    return str(file.id)
            if not page.data or not getattr(page, "has_more", False):
                return None
            after = page.data[-1].id
        return None

    def create(self, kind: BatchKind, file_id: str, metadata: Mapping[str, str]) -> BatchInfo:
        """Create a 24 h batch over ``file_id`` for ``kind``'s endpoint, tagged with ``metadata``."""
        endpoint = self._endpoint(kind)
        batch = self._call(
            lambda sdk: sdk.batches.create(
                input_file_id=file_id,
                endpoint=cast(Any, endpoint),  # Azure's paths are not in the SDK's Literal
                completion_window="24h",
                metadata=dict(metadata),
            )
        )
        return _info(batch)

    def retrieve(self, batch_id: str) -> BatchInfo:
        """The batch as it is now."""
        return _info(self._call(lambda sdk: sdk.batches.retrieve(batch_id)))

    def find(self, metadata: Mapping[str, str], *, newer_than: float) -> BatchInfo | None:
        """The newest batch created after ``newer_than`` whose metadata holds ``metadata``, or None."""
        after: str | None = None
        for _ in range(_PAGES):
            page = self._call(functools.partial(_page, after=after))
            for batch in page.data:
                if (batch.created_at or 0) < newer_than:
                    return None  # listed newest first: the rest is older still
                held = batch.metadata or {}
                if all(held.get(key) == value for key, value in metadata.items()):
                    return _info(batch)
            if not page.data or not getattr(page, "has_more", False):
                return None
            after = page.data[-1].id
        return None

    def cancel(self, batch_id: str) -> BatchInfo:
        """Ask for the batch to be cancelled."""
        return _info(self._call(lambda sdk: sdk.batches.cancel(batch_id)))

    def download(self, file_id: str) -> bytes:
        """A file's content."""
        return bytes(self._call(lambda sdk: sdk.files.content(file_id)).content)

    def delete_file(self, file_id: str) -> None:
        """Delete a file; one already gone is not an error."""
        with contextlib.suppress(NotFoundError):
            self._call(lambda sdk: sdk.files.delete(file_id))

    def result(
        self,
        record: Mapping[str, object],
        kind: BatchKind,
        expected: int,
        parser: Callable[[str], object] | None = None,
    ) -> ChatResponse | EmbeddingResponse | LLMPortError:
        """One result line read: the reply, or the domain error for that request."""
        return result_of(record, kind, expected, self.provider, self._wire._redactor, parser=parser)

    def _call(self, send: Callable[[Any], T]) -> T:
        sdk = self._wire._sdk()
        return translated(lambda: send(sdk), self.provider, self._wire._redactor)

    def __repr__(self) -> str:
        return f"BatchAdapter(provider={self.provider!r})"


def _page(sdk: Any, *, after: str | None) -> Any:
    if after is None:
        return sdk.batches.list(limit=_PAGE)
    return sdk.batches.list(limit=_PAGE, after=after)


def _files_page(sdk: Any, *, after: str | None) -> Any:
    if after is None:
        return sdk.files.list(purpose="batch", order="desc", limit=_PAGE)
    return sdk.files.list(purpose="batch", order="desc", limit=_PAGE, after=after)


def _info(batch: Any) -> BatchInfo:
    counts = batch.request_counts
    errors = batch.errors.data if batch.errors is not None and batch.errors.data else []
    return BatchInfo(
        id=batch.id,
        status=batch.status,
        input_file_id=batch.input_file_id or "",
        output_file_id=batch.output_file_id,
        error_file_id=batch.error_file_id,
        counts=BatchCounts(counts.total, counts.completed, counts.failed) if counts else BatchCounts(),
        errors=tuple(BatchProblem(e.code or "", e.message or "", e.line) for e in errors),
        metadata=dict(batch.metadata or {}),
    )


if TYPE_CHECKING:
    from ...domain.ports import BatchPort

    _batch: type[BatchPort] = BatchAdapter
