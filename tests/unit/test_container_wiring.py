"""The composition root's table of LLM adapters: one row per provider, one adapter for both ports."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from llmport.container.factories import LLM_ADAPTERS
from llmport.container.root import Container
from llmport.settings import Settings
from llmport.settings.values import Provider

ENDPOINT = "https://r.openai.azure.com"
CASES = {
    "openai": {"api_key": "sk-test"},
    "azure": {"endpoint": ENDPOINT, "api_version": "2024-10-21", "api_key": "k"},
    "azure_v1": {"endpoint": f"{ENDPOINT}/openai/v1", "api_key": "k"},
}


def test_every_provider_but_the_fake_has_one_row_of_the_adapter_table() -> None:
    assert set(LLM_ADAPTERS) == set(get_args(Provider)) - {"fake"} == set(CASES)


@pytest.mark.parametrize("provider", sorted(CASES))
def test_the_container_builds_the_providers_row_once_for_chat_and_embeddings(provider: str) -> None:
    values: dict[str, Any] = {**CASES[provider], "chat_model": "m", "timeout": 12.5}
    container = Container(settings=Settings.from_dict(values))
    adapter = container.chat_adapter()
    try:
        assert type(adapter) is LLM_ADAPTERS[provider].load()
        assert adapter.provider == provider
        assert adapter._timeout == 12.5  # the keywords every row shares reach each adapter
        assert container.embedding_adapter() is adapter
    finally:
        adapter.close()


def test_the_fake_provider_gets_the_fakes_not_a_row() -> None:
    container = Container(settings=Settings(provider="fake"))
    assert type(container.chat_adapter()).__name__ == "FakeChat"
    assert type(container.embedding_adapter()).__name__ == "FakeEmbeddings"
