"""Spans of a client over several deployments name the deployment that served, or failed, each call."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loopback import LoopbackServer, Reply  # the path is set above
from otel_helpers import CHAT_MODEL, EMBEDDING_MODEL, Otel, traced_client

from llmport.domain.errors import ConnectionFailedError
from llmport.settings.model import Settings


@pytest.fixture
def regions() -> Iterator[tuple[LoopbackServer, LoopbackServer]]:
    with LoopbackServer() as east, LoopbackServer() as west:
        yield east, west


def routed(east: LoopbackServer, west: LoopbackServer, **extra: object) -> Settings:
    def entry(name: str, server: LoopbackServer, priority: int) -> dict[str, object]:
        return {"name": name, "base_url": f"{server.url}/v1", "api_key": server.api_key, "priority": priority}

    return Settings.from_dict(
        {
            "chat_model": CHAT_MODEL,
            "embedding_model": EMBEDDING_MODEL,
            "deployments": [entry("east", east, 0), entry("west", west, 1)],
            **extra,
        }
    )


def test_chat_stream_and_embeddings_spans_name_the_deployment(
    regions: tuple[LoopbackServer, LoopbackServer],
) -> None:
    east, west = regions
    otel = Otel()
    with traced_client(routed(east, west), otel) as client:
        client.chat("hi")
        "".join(chunk.text for chunk in client.stream("hi"))
        client.embed(["a", "b"])
    spans = otel.calls()
    assert [span.name.split()[0] for span in spans] == ["chat", "chat", "embeddings"]
    assert [span.attributes.get("llmport.deployment") for span in spans] == ["east"] * 3


def test_a_failover_shows_on_the_span_and_a_final_error_names_its_deployment(
    regions: tuple[LoopbackServer, LoopbackServer],
) -> None:
    east, west = regions
    east.respond_with(lambda index, recorded: Reply(503, {"error": {"message": "busy"}}))
    otel = Otel()
    with traced_client(routed(east, west), otel) as client:
        client.chat("hi")
        west.respond_with(lambda index, recorded: Reply(reset=True))
        with pytest.raises(ConnectionFailedError):
            client.chat("hi", max_retries=0)
    served, failed = otel.calls()
    assert served.attributes.get("llmport.deployment") == "west"  # moved past the 503 in east
    assert failed.attributes.get("llmport.deployment") == "west"
    assert failed.attributes.get("error.type") == "ConnectionFailedError"
