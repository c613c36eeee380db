"""Testing your own code with llmport's pytest fixtures and override(); pytest loads the plugin itself."""

from __future__ import annotations

import llmport
from llmport.testing import FakeChat, FakeEmbeddings, override


def answer(client: llmport.Client, question: str) -> str:
    """The code under test: yours, taking the client it should use."""
    return client.chat(question, system="Answer in one word.").text


def test_answer_sends_the_system_prompt(llmport_client: llmport.Client, llmport_fake_chat: FakeChat) -> None:
    llmport_fake_chat.push("Paris")  # the next reply; an exception instance would be raised instead
    assert answer(llmport_client, "Capital of France?") == "Paris"
    assert llmport_fake_chat.requests[0].messages[0].text == "Answer in one word."


def test_embeddings_are_stable(
    llmport_client: llmport.Client, llmport_fake_embeddings: FakeEmbeddings
) -> None:
    vectors = llmport_client.embed(["a", "b"]).vectors
    assert vectors[0] == FakeEmbeddings.vector("a")
    assert len(llmport_fake_embeddings.requests) == 1


def test_override_swaps_the_adapter_of_a_running_client() -> None:
    client = llmport.from_dict({"provider": "fake"})  # in an app: app.extensions["llmport"], get_client()
    with override(client, chat=FakeChat("Paris")):
        assert answer(client, "Capital of France?") == "Paris"
    assert answer(client, "Capital of France?") == "fake reply to: Capital of France?"
    client.close()
