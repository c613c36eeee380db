"""Cassettes over real HTTP: each provider shape recorded from the loopback, then replayed with it stopped.

The clients are real (container, SDK, httpx2, llmport's transport), built before the cassette is
entered; the retries are llmport's own, with the test's injected sleep.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness import PROVIDERS, wire
from loopback import LoopbackServer, Reply
from wire_samples import chat_chunks

import llmport
from llmport.testing import cassette

PROMPT = [{"role": "user", "content": "What is the capital of France?"}]


def everything(client: llmport.Client) -> list[object]:
    """One of each kind of call, as comparable values."""
    return [
        client.chat(PROMPT).text,
        [chunk.text for chunk in client.stream(PROMPT)],
        client.chat(PROMPT, api="responses").text,
        [chunk.text for chunk in client.stream(PROMPT, api="responses")],
        client.embed(["a", "b"]).vectors,
    ]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_kind_of_call_is_recorded_then_replayed_with_the_server_stopped(
    provider: str, tmp_path: Path
) -> None:
    path = tmp_path / "calls.json"
    with LoopbackServer() as server:
        wiring = wire(server, provider)  # built before the cassette: it is covered all the same
        with cassette(path) as recording:
            live = everything(wiring.client)
        assert recording.recording and server.count == 5
    # The server is gone: anything sent would fail to connect.
    with cassette(path) as replaying:
        assert everything(wiring.client) == live
    assert not replaying.recording and replaying.played == 5
    wiring.client.close()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_stream_is_stored_as_its_events_and_replayed_chunk_by_chunk(provider: str, tmp_path: Path) -> None:
    path = tmp_path / "stream.json"
    azure = provider != "openai"
    with LoopbackServer() as server:
        server.script(Reply(events=chat_chunks(("Pa", "r", "is"), azure=azure)))
        wiring = wire(server, provider)
        with cassette(path):
            live = [(chunk.text, chunk.finish_reason) for chunk in wiring.client.stream(PROMPT)]
    sent = chat_chunks(("Pa", "r", "is"), azure=azure)
    events = json.loads(path.read_text())["exchanges"][0]["response"]["events"]
    assert events == [{"data": event} for event in sent] + [{"data": "[DONE]"}]
    with cassette(path, mode="replay"):
        assert [(chunk.text, chunk.finish_reason) for chunk in wiring.client.stream(PROMPT)] == live
    assert [text for text, _ in live if text] == ["Pa", "r", "is"]


@pytest.mark.parametrize("provider", ["openai", "azure_v1"])
def test_a_stream_cut_mid_body_replays_its_chunks_then_breaks_where_it_broke(
    provider: str, tmp_path: Path
) -> None:
    path = tmp_path / "cut.json"

    def read(client: llmport.Client) -> tuple[list[str], str]:
        seen: list[str] = []
        with pytest.raises(llmport.StreamInterruptedError) as broke:
            for chunk in client.stream(PROMPT):
                seen.append(chunk.text)
        return seen, type(broke.value).__name__

    with LoopbackServer() as server:
        server.script(Reply(events=chat_chunks(("Pa", "r", "is"), azure=provider != "openai"), cut_after=3))
        wiring = wire(server, provider, max_retries=0)
        with cassette(path):
            live = read(wiring.client)
    assert "".join(live[0]).startswith("Pa")  # Azure sends a filter event first: one chunk fewer
    assert json.loads(path.read_text())["exchanges"][0]["response"]["cut"]["type"] == "RemoteProtocolError"
    with cassette(path, mode="replay"):
        assert read(wiring.client) == live
