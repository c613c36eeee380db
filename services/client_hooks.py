"""What ``llmport.testing`` reaches inside a Client: the container that built it, and its services."""

from __future__ import annotations

from .caching import ChatCalls, EmbeddingCalls
from .client import Client

__all__ = ["composition_root", "swap_services"]


def composition_root(client: Client) -> object | None:
    """The container that built ``client`` (``llmport.testing.container_of``), or None if built by hand."""
    return client._root._container


def swap_services(
    client: Client, chat: ChatCalls | None = None, embeddings: EmbeddingCalls | None = None
) -> tuple[ChatCalls, EmbeddingCalls]:
    """Replace the services ``client`` calls and return the previous ones (``llmport.testing.override``).

    Calls already running finish on the services they started with; later calls, the views'
    included, use the new ones.

    Args:
        client: the client, or one of its :meth:`Client.with_options` views.
        chat: the new chat service; None keeps the current one.
        embeddings: the new embedding service; None keeps the current one.
    """
    root = client._root
    with root._lock:
        previous = (root._chat, root._embeddings)
        if chat is not None:
            root._chat = chat
        if embeddings is not None:
            root._embeddings = embeddings
    return previous
