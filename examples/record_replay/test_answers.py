"""Tests that ran against the real endpoint once, and replay its recorded replies in every run after."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

import llmport

# Recording reaches your endpoint with your key; a replay sends nothing, so CI needs neither.
ENDPOINT = os.environ.get("AZURE_OPENAI_ENDPOINT", "https://replay-only.openai.azure.com")
KEY = os.environ.get("AZURE_OPENAI_API_KEY", "replay-only")


@pytest.fixture(scope="module")
def client() -> Iterator[llmport.Client]:
    settings = llmport.Settings(
        endpoint=ENDPOINT, api_key=KEY, api_version="2024-10-21", chat_model="gpt-4o-mini"
    )
    with llmport.build_client(settings) as client:  # built before the cassettes: they see it all the same
        yield client


@pytest.mark.llmport_cassette  # cassettes/test_answers/test_capital.json, beside this file
def test_capital(client: llmport.Client) -> None:
    assert client.chat("What is the capital of France?").text == "Paris"


def test_story_streams(client: llmport.Client, llmport_cassette: llmport.testing.Cassette) -> None:
    chunks = [chunk.text for chunk in client.stream("Tell me a short story.")]
    assert "".join(chunks) == "Once upon a time" and len(chunks) > 1  # the recorded chunks, one by one
