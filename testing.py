"""Test helpers for llmport's users: the fakes, and clients wired to them."""

from __future__ import annotations

from typing import Any

from dependency_injector import providers

from .adapters.fakes import FakeChat, FakeCredential, FakeEmbeddings
from .container import Container, build_client
from .services.client import Client
from .settings import Settings

__all__ = ["FakeChat", "FakeCredential", "FakeEmbeddings", "fake_client"]


def fake_client(
    chat: FakeChat | None = None, embeddings: FakeEmbeddings | None = None, **settings: Any
) -> Client:
    """Build a Client whose adapters are the given fakes (new ones when omitted).

    The rest of the stack is real: validation, retries, logging and error handling run as in
    production, so a test sees what the application would. Inspect ``chat.requests`` afterwards.

    Args:
        chat: the FakeChat to answer chat and stream calls.
        embeddings: the FakeEmbeddings to answer embed calls.
        settings: further settings by field name (e.g. ``max_retries=0``).

    Raises:
        ConfigurationError: a setting is invalid.
    """
    resolved = Settings(provider="fake", **settings)
    container = Container(settings=resolved)
    container.chat_adapter.override(providers.Object(chat or FakeChat()))
    container.embedding_adapter.override(providers.Object(embeddings or FakeEmbeddings()))
    return build_client(resolved, container)
