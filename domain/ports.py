"""The ports: what the services need from the outside world, as narrow structural Protocols."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

from .batch import BatchInfo, BatchKind, BatchLimits
from .budget import Budget, Health, RateHint, Refusal, Remaining, Reservation
from .errors import LLMPortError
from .models import (
    AccessToken,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    Usage,
)
from .tokens import TextTokenCounts, TokenCount

__all__ = [
    "BatchPort",
    "BatchStateStore",
    "BudgetStore",
    "CacheStore",
    "CallSpan",
    "ChatPort",
    "Closeable",
    "CredentialPort",
    "EmbeddingPort",
    "ForkAware",
    "TelemetryPort",
    "TokenCounter",
]


@runtime_checkable
class ChatPort(Protocol):
    """Sends chat requests to a model.

    A call runs under the caller's deadline (``llmport.domain.deadline.current_deadline()``):
    an adapter bounds every network wait by it, streams included.
    """

    def complete(self, request: ChatRequest) -> ChatResponse:
        """Return the whole reply. Raises an LLMPortError subclass on failure."""
        ...

    def stream(self, request: ChatRequest) -> Iterator[ChatChunk]:
        """Yield the reply as it is generated; nothing is sent until the first ``next()``."""
        ...


@runtime_checkable
class EmbeddingPort(Protocol):
    """Turns texts into vectors, one request per call (batching is the service's job)."""

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Return one vector per input, in order. Raises an LLMPortError subclass on failure."""
        ...


@runtime_checkable
class CredentialPort(Protocol):
    """Gives bearer tokens for the requested scopes (azure-core's TokenCredential shape)."""

    def get_token(self, *scopes: str, claims: str | None = None) -> AccessToken:
        """Return a token valid for ``scopes``. Raises AuthenticationError if none can be had.

        ``claims`` is a claims challenge from a 401 (Continuous Access Evaluation): the token must
        satisfy it, so a cached token must not be handed back.
        """
        ...


@runtime_checkable
class Closeable(Protocol):
    """An adapter that holds connections or threads and must be closed."""

    def close(self) -> None:
        """Release what the adapter holds; calling it twice is harmless."""
        ...


@runtime_checkable
class ForkAware(Protocol):
    """Something holding sockets, threads or locks that a child process must not share after ``fork``."""

    def after_fork(self) -> None:
        """In the child, right after ``os.fork()``: drop what belongs to the parent (no I/O here)."""
        ...


@runtime_checkable
class CallSpan(Protocol):
    """What one logical call (all its attempts, retries and waits) reports to telemetry.

    A service opens it with ``TelemetryPort.start_call`` and ends it exactly once with ``end``.
    No method raises: telemetry that fails is the adapter's to log, never the call's to fail.
    """

    @property
    def capture_content(self) -> bool:
        """Whether the user opted in to message content on traces (check before building it)."""
        ...

    @property
    def log_fields(self) -> Mapping[str, str]:
        """Fields that join a log event to this call's trace (e.g. trace_id, span_id); may be empty."""
        ...

    def attempt(self, number: int) -> AbstractContextManager[None]:
        """Scope one attempt (1, 2, ...): a child of the call, current while the adapter works."""
        ...

    def retry(self, attempt: int, error: LLMPortError, delay: float, reason: str) -> None:
        """Note that attempt ``attempt`` failed with ``error`` and another follows in ``delay`` seconds."""
        ...

    def first_chunk(self) -> None:
        """A stream's first chunk arrived (its time since the call started is recorded)."""
        ...

    def chat_reply(
        self,
        *,
        model: str,
        response_id: str | None,
        finish_reasons: tuple[str, ...],
        usage: Usage | None,
        request_id: str | None,
        system_fingerprint: str | None = None,
        service_tier: str | None = None,
        deployment: str | None = None,
    ) -> None:
        """Record what the provider answered: its model, the reply's id, finish reasons, usage,
        and the deployment that served it (a routed client's)."""
        ...

    def embedding_reply(self, reply: EmbeddingResponse) -> None:
        """Record an embeddings answer: model, id, usage."""
        ...

    def content(self, input_messages: str | None, output_messages: str | None) -> None:
        """Record message content (JSON, GenAI convention shape); only call it when ``capture_content``."""
        ...

    def end(self, error: BaseException | None = None, *, cancelled: bool = False) -> None:
        """End the call: ``error`` when it failed; ``cancelled`` when a stream was abandoned."""
        ...


@runtime_checkable
class TelemetryPort(Protocol):
    """Traces and metrics for calls; the default adapter records nothing and costs nothing.

    ``enabled`` is read once when a service is built: a service with a disabled port never
    calls ``start_call`` (one ``if`` per call).
    """

    @property
    def enabled(self) -> bool:
        """Whether anything is recorded."""
        ...

    def start_call(
        self, request: ChatRequest | EmbeddingRequest, *, stream: bool = False, cache: str | None = None
    ) -> CallSpan:
        """Open the span of one logical call for ``request`` (its model already resolved);
        ``cache`` is the reply cache's outcome (``"hit"`` or ``"miss"``), None when it is off."""
        ...


@runtime_checkable
class BudgetStore(Protocol):
    """Per-deployment budgets, cooldowns and ejection state, possibly shared across processes.

    No method raises because the store's backend failed: a shared store falls back to local
    state and says so in the log. Bad arguments raise ValidationError.
    """

    #: The store's time (seconds on an epoch every process sharing it agrees on): cooldowns and
    #: waits are on it.
    clock: Callable[[], float]

    def reserve(self, budget: Budget, tokens: int) -> Reservation | Refusal:
        """Take one request and ``tokens`` from ``budget`` now, or say how long until there is room."""
        ...

    def reconcile(self, reservation: Reservation, used_tokens: int, hint: RateHint | None = None) -> None:
        """A reply came: charge or refund the difference from the estimate, keep the provider's
        hint, reset the failure count and close the circuit (a probe's success restores it)."""
        ...

    def fail(
        self,
        reservation: Reservation,
        *,
        cool_until: float | None = None,
        hint: RateHint | None = None,
        counts: bool = True,
    ) -> Health:
        """The call failed: refund its tokens (the request still counts), cool the deployment
        until ``cool_until`` (a 429's hint, on the store's clock) and keep the hint. When the
        failure ``counts`` (a 429 is a busy deployment, not a broken one: pass False), count it
        and eject at ``eject_after`` (a failed probe ejects at once). Return the health after."""
        ...

    def cool_down(self, deployment: str, until: float) -> None:
        """Refuse the deployment until ``until`` (the store's clock); a later cooldown wins."""
        ...

    def remaining(self, budgets: Sequence[Budget]) -> dict[str, Remaining]:
        """What each deployment can take now, by deployment id, read in one go."""
        ...

    def reserve_and_read(
        self, budget: Budget, tokens: int, budgets: Sequence[Budget]
    ) -> tuple[Reservation | Refusal, dict[str, Remaining]]:
        """``reserve(budget, tokens)``, then ``remaining(budgets)``: a router's whole conversation
        with the store for one call, in one round trip to a shared backend (or none).

        The reservation is exact. The budgets read may be up to a quarter second old while only
        calls' own reservations and settlements happened since; a store may then answer with the
        very same mapping again (so that a router knows it for the old read it is). A refusal, a failure, a
        cooldown or a change of health makes the next answer a fresh read.

        While a deployment has plenty of room, a store may lend room for the next calls with the
        reservation (``Reservation.lease``, see ``Lease``): the caller takes them from it and
        settles them on it without asking the store."""
        ...

    def close(self) -> None:
        """Release the connections to a shared backend; calls after it are the caller's bug."""
        ...


@runtime_checkable
class CacheStore(Protocol):
    """Finished replies by key, for the reply cache (``services/caching.py``): in memory or shared.

    Keys are hashes (no prompt, key or token in them); values are the bytes the caching service
    wrote. No method raises and none waits past what is left of the call's deadline
    (``domain.deadline.current_deadline``) nor its own timeout: a store that fails, is slow, or
    returns garbage answers as a miss (``None``), stores nothing, and logs that once.
    """

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The value of each key, in order; ``None`` for a miss (or any failure)."""
        ...

    def set_many(self, items: Mapping[str, bytes], ttl: float, *, release: str | None = None) -> None:
        """Store each value for ``ttl`` seconds; a value over the store's size cap is not stored.

        ``release``: a claim to give back as well, in the same round trip (given back even when
        nothing could be stored).
        """
        ...

    def claim_and_get(self, key: str, keys: Sequence[str], seconds: float) -> tuple[bool, list[bytes | None]]:
        """Whether this caller should compute ``key`` (no other holds it; it then holds it for
        ``seconds`` at most), and the value of each of ``keys`` read just after: one round trip.

        Shared stores make the claim a lock across processes (single flight); a failure answers
        True and misses.
        """
        ...

    def release(self, key: str) -> None:
        """Give back a claim (after the value was stored, or the call failed)."""
        ...

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...


@runtime_checkable
class TokenCounter(Protocol):
    """Counts tokens the way the provider will, before anything is sent (no network, ever).

    No method raises for an unknown model: the count is then an estimate (``exact=False``).
    The encoding loads on the first count, never at import or build time.
    """

    def count_chat(self, request: ChatRequest) -> TokenCount:
        """The prompt tokens of ``request`` (its model resolved): messages, names, tools, schemas,
        images, with the per-message and reply-priming tokens."""
        ...

    def count_texts(self, texts: Sequence[str], model: str) -> TextTokenCounts:
        """The tokens of each text as an embeddings input for ``model``."""
        ...

    def truncate(self, text: str, model: str, limit: int) -> str:
        """``text`` cut at a token boundary to at most ``limit`` tokens of ``model``'s encoding
        (unchanged when it fits; by characters when the encoding is unknown)."""
        ...


@runtime_checkable
class BatchPort(Protocol):
    """A provider's Files and Batches APIs, and its JSONL: what a batch job needs from the outside.

    Every method raises an LLMPortError subclass on failure, like the chat port.
    """

    provider: str

    def limits(self, kind: BatchKind) -> BatchLimits:
        """What one batch of ``kind`` may hold on this provider.

        Raises:
            ConfigurationError: the provider does not batch ``kind`` (e.g. embeddings on Azure).
        """
        ...

    def line(self, custom_id: str, request: ChatRequest | EmbeddingRequest, kind: BatchKind) -> bytes:
        """One JSONL line (with its newline) asking for ``request`` under ``custom_id``."""
        ...

    def upload(self, name: str, data: bytes) -> str:
        """Upload a batch input file (``purpose=batch``); return its file id."""
        ...

    def find_file(self, name: str, *, newer_than: float) -> str | None:
        """The id of the newest batch input file called ``name`` uploaded after ``newer_than``
        (epoch seconds), or None: how a resumed job finds an upload a crash left unsaved."""
        ...

    def create(self, kind: BatchKind, file_id: str, metadata: Mapping[str, str]) -> BatchInfo:
        """Create a batch over an uploaded file, with ``metadata`` (at most 16 short strings)."""
        ...

    def retrieve(self, batch_id: str) -> BatchInfo:
        """The batch as it is now."""
        ...

    def find(self, metadata: Mapping[str, str], *, newer_than: float) -> BatchInfo | None:
        """The newest batch created after ``newer_than`` (epoch seconds) whose metadata holds
        ``metadata``, or None: how a resumed job finds a batch created just before a crash."""
        ...

    def cancel(self, batch_id: str) -> BatchInfo:
        """Ask the provider to cancel a batch; it ends ``cancelled`` with what had finished."""
        ...

    def download(self, file_id: str) -> bytes:
        """A file's content (a batch's output or error file)."""
        ...

    def delete_file(self, file_id: str) -> None:
        """Delete a file; one already gone is not an error."""
        ...

    def result(
        self,
        record: Mapping[str, object],
        kind: BatchKind,
        expected: int,
        parser: Callable[[str], object] | None = None,
    ) -> ChatResponse | EmbeddingResponse | LLMPortError:
        """One output or error line, read: the reply, or the domain error for that request.

        ``expected`` is the number of embedding inputs the request had (1 for chat); ``parser``
        reads a structured reply into ``reply.parsed``, as for a synchronous call.
        """
        ...


@runtime_checkable
class BatchStateStore(Protocol):
    """Where a batch job keeps its state and the files it downloaded, to survive a crash.

    A save is whole or not at all (a crash mid-write leaves the previous state), and is durable
    when it returns. Names are short ASCII strings made by the batch service.
    """

    def load(self, job_id: str) -> dict[str, object] | None:
        """The job's last saved state, or None when there is none."""
        ...

    def save(self, job_id: str, state: Mapping[str, object]) -> None:
        """Replace the job's state (JSON-serialisable)."""
        ...

    def put(self, job_id: str, name: str, data: bytes) -> None:
        """Keep ``data`` under ``name`` for the job (an input file, a downloaded result)."""
        ...

    def get(self, job_id: str, name: str) -> bytes | None:
        """What :meth:`put` kept under ``name``, or None."""
        ...

    def where(self, job_id: str) -> str:
        """Where the job's state is, for messages and ``resume`` (a path, or a Redis key)."""
        ...
