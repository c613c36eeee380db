"""Several named clients from one TOML file: each built once, on first use, by its own container."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from dependency_injector import providers

import llmport
from llmport.testing import FakeChat

CONFIG = """
[clients.default]
provider = "fake"
chat_model = "small"

[clients.embeddings]
provider = "fake"
embedding_model = "large"
embedding_batch_size = 2
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "llmport.toml"
    path.write_text(CONFIG)
    return path


def test_each_named_client_has_its_own_settings(config: Path) -> None:
    with llmport.clients_from_file(config) as clients:
        assert clients.names == ["default", "embeddings"]
        assert clients["default"].chat("hi").model == "small"
        assert clients["embeddings"].embed(["a", "b", "c"]).model == "large"
        assert clients["embeddings"].settings is not None
        assert clients["embeddings"].settings.embedding_batch_size == 2


def test_a_client_is_built_once_even_when_threads_ask_together(config: Path) -> None:
    clients = llmport.clients_from_file(config)
    barrier, seen = threading.Barrier(8), []

    def ask() -> None:
        barrier.wait(timeout=5)
        seen.append(clients["default"])

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert len(seen) == 8 and all(client is seen[0] for client in seen)
    clients.close()


def test_an_unknown_name_lists_the_known_ones(config: Path) -> None:
    with pytest.raises(
        llmport.ConfigurationError, match="no client named 'chat'; the clients are: default, embeddings"
    ):
        llmport.clients_from_file(config)["chat"]


def test_a_named_container_can_be_overridden_before_first_use(config: Path) -> None:
    clients = llmport.clients_from_file(config)
    fake = FakeChat("scripted")
    clients.containers["default"].chat_adapter.override(providers.Object(fake))
    assert clients["default"].chat("hi").text == "scripted"
    assert len(fake.requests) == 1
    clients.close()


def test_from_file_reads_the_named_client(config: Path) -> None:
    with llmport.from_file(config, name="embeddings") as client:
        assert client.embed("x").model == "large"
