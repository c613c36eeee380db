"""The ports: what the services need from the outside world, as narrow structural Protocols."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from .models import AccessToken, ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse

__all__ = ["ChatPort", "Closeable", "CredentialPort", "EmbeddingPort", "ForkAware"]


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
