"""Clients wired to the loopback batch server by the real container, with polling time injected."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from batch_server import BatchServer
from clock import FakeClock
from dependency_injector import providers
from harness import shaped

from llmport import Client, build_client
from llmport.adapters.batch.file_state import FileStateStore
from llmport.adapters.batch.files_api import BatchAdapter
from llmport.domain.batch import BatchLimits
from llmport.testing import Container

__all__ = ["batch_client"]


def batch_client(
    server: BatchServer,
    provider: str,
    state_dir: Path | None,
    *,
    clock: FakeClock | None = None,
    limits: BatchLimits | None = None,
    **settings: Any,
) -> Client:
    """A real client (real adapters, SDK and HTTP) on ``server`` in ``provider``'s URL shape: its
    jobs kept under ``state_dir``; polling sleeps on a fake clock (tests never wait); ``limits``
    instead of the provider's, to split small jobs."""
    values = dataclasses.replace(shaped(server.url, provider, api_key=server.api_key), **settings)
    time = clock or FakeClock(1_000.0)
    container = Container(settings=values)
    container.sleep.override(providers.Object(time.sleep))
    container.clock.override(providers.Object(time))
    if state_dir is not None:  # else the container's choice (Redis when the cache setting is one)
        container.batch_store.override(providers.Object(FileStateStore(state_dir)))
    if limits is not None:
        container.batch_port.override(
            providers.Callable(lambda adapter: BatchAdapter(adapter, limits=limits), container.llm_adapter)
        )
    return build_client(values, container)
