"""Batch wiring: the provider's Files + Batches adapter, where jobs' state is kept, the service."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..adapters.batch.file_state import FileStateStore
from ..adapters.llm.wire.adapter import WireAdapter
from ..domain.ports import BatchPort, BatchStateStore, TokenCounter
from ..services.batch.service import BatchService
from ..settings import Settings

__all__ = ["batch_port", "batch_service", "batch_store", "default_batch_dir"]


def default_batch_dir() -> Path:
    """Where jobs' state goes when no Redis is configured: ``~/.cache/llmport/batches``."""
    return Path.home() / ".cache" / "llmport" / "batches"


def batch_port(
    settings: Settings,
    adapter_kind: str,
    llm_adapter: Callable[[], Any],
    chat_adapter: Callable[[], Any],
    embedding_adapter: Callable[[], Any],
) -> BatchPort | None:
    """The Files + Batches adapter over the provider's own SDK client (in memory over the fakes on
    the fake provider); None for several routed deployments."""
    if adapter_kind == "fake":
        from ..adapters.batch.fake import FakeBatch

        return FakeBatch(chat_adapter(), embedding_adapter())
    if adapter_kind != "llm":
        return None
    adapter = llm_adapter()
    if not isinstance(adapter, WireAdapter):
        return None  # an adapter put in the container by hand: no SDK client to batch with
    from ..adapters.batch.files_api import BatchAdapter

    return BatchAdapter(adapter)


def batch_store(settings: Settings) -> BatchStateStore:
    """The Redis of the ``cache`` setting when it is one (shared by every worker), else files."""
    if settings.cache.startswith(("redis://", "rediss://", "unix://")):
        module = importlib.import_module("llmport.adapters.batch.redis_state")
        store: BatchStateStore = module.RedisStateStore(settings.cache)
        return store
    return FileStateStore(default_batch_dir())


def batch_service(
    port: BatchPort | None,
    store: BatchStateStore,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    rand: Callable[[], float],
    wall_clock: Callable[[], float],
    counter: TokenCounter | None = None,
) -> BatchService:
    """The batch service; a call's ``state=`` directory gets a FileStateStore."""
    return BatchService(
        port,
        store,
        file_store=FileStateStore,
        timing=(clock, sleep, rand),
        wall_clock=wall_clock,
        counter=counter,
    )
