"""llmport.testing.override: adapters swapped in a built client or container, then restored."""

from __future__ import annotations

import threading

import pytest
from dependency_injector import containers

import llmport
from llmport.services.chat import ChatService
from llmport.services.embeddings import EmbeddingService
from llmport.services.retry import Retrier, RetryPolicy
from llmport.testing import FakeChat, FakeEmbeddings, container_of, fake_client, override


@pytest.fixture
def client() -> llmport.Client:
    return llmport.from_dict({"provider": "fake", "max_retries": 0})


def test_chat_goes_to_the_override_inside_and_to_the_original_after(client: llmport.Client) -> None:
    scripted = FakeChat("inside")
    with override(client, chat=scripted) as same:
        assert same is client
        assert client.chat("q").text == "inside"
    assert client.chat("q").text == "fake reply to: q"
    assert len(scripted.requests) == 1


def test_the_container_gives_back_its_own_adapters_and_services(client: llmport.Client) -> None:
    container = container_of(client)
    assert isinstance(container, containers.Container)
    adapter_before, service_before = container.chat_adapter(), container.chat_service()
    with override(client, chat=FakeChat()):
        assert container.chat_adapter() is not adapter_before
        assert container.chat_service() is not service_before
    assert container.chat_adapter() is adapter_before
    assert container.chat_service() is service_before


def test_overriding_embeddings_leaves_chat_alone(client: llmport.Client) -> None:
    vectors = FakeEmbeddings(dimensions=3)
    with override(client, embeddings=vectors):
        assert len(client.embed("x").vectors[0]) == 3
        assert client.chat("q").text == "fake reply to: q"
    assert len(client.embed("x").vectors[0]) == 8
    assert len(vectors.requests) == 1


def test_nested_overrides_restore_in_order(client: llmport.Client) -> None:
    with override(client, chat=FakeChat("outer", "outer again")):
        assert client.chat("q").text == "outer"
        with override(client, chat=FakeChat("inner")):
            assert client.chat("q").text == "inner"
        assert client.chat("q").text == "outer again"
    assert client.chat("q").text == "fake reply to: q"


def test_the_originals_come_back_when_the_block_raises(client: llmport.Client) -> None:
    with pytest.raises(KeyError), override(client, chat=FakeChat("inside")):
        raise KeyError("test failed")
    assert client.chat("q").text == "fake reply to: q"


def test_a_fake_client_can_be_overridden_on_top_of_its_fakes() -> None:
    first, second = FakeChat(), FakeChat("second")
    client = fake_client(first)
    with override(client, chat=second):
        assert client.chat("q").text == "second"
    client.chat("q")
    assert (len(first.requests), len(second.requests)) == (1, 1)


def test_overriding_a_container_changes_what_it_resolves(client: llmport.Client) -> None:
    container = container_of(client)
    scripted = FakeChat("from the container")
    with override(container, chat=scripted):
        assert container.chat_adapter() is scripted
        assert client.chat("q").text == "fake reply to: q"  # built before: the container alone changed
    assert container.chat_adapter() is not scripted


def test_calls_on_other_threads_see_the_override(client: llmport.Client) -> None:
    answers: list[str] = []
    with override(client, chat=FakeChat("from a thread")):
        worker = threading.Thread(target=lambda: answers.append(client.chat("q").text))
        worker.start()
        worker.join(timeout=10)
    assert answers == ["from a thread"]


def test_override_needs_an_adapter(client: llmport.Client) -> None:
    with pytest.raises(TypeError, match="chat=, embeddings="), override(client):
        pass


def test_a_hand_built_client_cannot_be_overridden() -> None:
    retrier = Retrier(RetryPolicy(max_retries=0))
    client = llmport.Client(
        ChatService(FakeChat(), provider="fake", model="m", retrier=retrier),
        EmbeddingService(FakeEmbeddings(), provider="fake", model="m", retrier=retrier),
    )
    with pytest.raises(TypeError, match="assembled by hand"), override(client, chat=FakeChat()):
        pass
    with pytest.raises(TypeError, match="assembled by hand"):
        container_of(client)
