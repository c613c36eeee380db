"""Contract: embeddings through every adapter: one request, base64 on the wire, input order."""

from __future__ import annotations

from typing import Any

import pytest
from adapter_cases import AdapterCase
from loopback import LoopbackServer, Reply
from wire_samples import embedding_list, vector_for

from llmport.domain.errors import ConfigurationError, ProviderError
from llmport.domain.models import EmbeddingRequest, Usage

EMBEDDING_MODEL = "text-embedding-3-small"


def embed_request(*inputs: str, dimensions: int | None = None) -> EmbeddingRequest:
    return EmbeddingRequest(inputs or ("a", "b", "c"), model=EMBEDDING_MODEL, dimensions=dimensions)


def test_vectors_come_back_in_input_order_even_when_the_provider_shuffles_them(adapter: Any) -> None:
    reply = adapter.embed(embed_request("first", "second", "third"))

    # The loopback sends the items in reverse index order.
    assert [list(v) for v in reply.vectors] == [vector_for(i, 3) for i in range(3)]
    assert reply.usage == Usage(prompt_tokens=9, total_tokens=9)
    assert reply.request_id == "req-loopback"


def test_one_request_carries_every_input_asks_for_base64_and_passes_dimensions(
    adapter: Any, server: LoopbackServer, case: AdapterCase
) -> None:
    reply = adapter.embed(embed_request("x", "y", dimensions=5))

    assert len(server.requests) == 1
    sent = server.last
    assert sent.op == "embeddings"
    assert sent.body == {
        "model": EMBEDDING_MODEL,
        "input": ["x", "y"],
        "encoding_format": "base64",
        "dimensions": 5,
    }
    if case.shape == "azure":
        assert sent.deployment == EMBEDDING_MODEL
    assert [len(v) for v in reply.vectors] == [5, 5]


def test_base64_vectors_decode_to_the_floats_that_were_encoded(adapter: Any, server: LoopbackServer) -> None:
    vectors = [[0.5, -1.25, 3.0e-3], [1.0e10, -0.0, 7.75]]
    server.script(Reply(body=embedding_list(vectors, reverse=False)))

    reply = adapter.embed(embed_request("p", "q"))

    # float32 on the wire: compare after the same rounding.
    import struct

    expected = [list(struct.unpack("<3f", struct.pack("<3f", *v))) for v in vectors]
    assert [list(v) for v in reply.vectors] == expected
    assert all(isinstance(x, float) for v in reply.vectors for x in v)


def test_float_lists_from_servers_that_ignore_encoding_format_are_accepted(
    adapter: Any, server: LoopbackServer
) -> None:
    server.script(Reply(body=embedding_list([[1.0, 2.0], [3.0, 4.0]], as_base64=False)))

    reply = adapter.embed(embed_request("p", "q"))

    assert [list(v) for v in reply.vectors] == [[1.0, 2.0], [3.0, 4.0]]


def test_a_reply_with_a_vector_missing_raises_provider_error(
    adapter: Any, server: LoopbackServer, case: AdapterCase
) -> None:
    server.script(Reply(body=embedding_list([[1.0], [2.0]])))

    with pytest.raises(ProviderError, match="2 vectors for 3 inputs") as caught:
        adapter.embed(embed_request("a", "b", "c"))

    assert caught.value.provider == case.provider


def test_a_request_without_a_model_raises_configuration_error_naming_embedding_model(
    adapter: Any, server: LoopbackServer
) -> None:
    with pytest.raises(ConfigurationError, match="embedding_model"):
        adapter.embed(EmbeddingRequest(("a",)))

    assert server.requests == []
