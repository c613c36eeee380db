"""A job split at the provider's limits (requests, bytes, embedding inputs) acts as one; embeddings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from batch_server import BatchServer
from batch_wiring import batch_client

from llmport import ChatResponse, ConfigurationError, EmbeddingResponse, ValidationError
from llmport.domain.batch import BatchLimits

BIG = 200 * 1024 * 1024


@pytest.fixture
def server() -> Iterator[BatchServer]:
    with BatchServer() as running:
        yield running


def test_a_job_over_the_request_limit_runs_as_several_batches_and_answers_in_order(tmp_path: Path) -> None:
    with BatchServer(limits={"openai": (4, BIG)}) as server:  # the server refuses a fifth line
        client = batch_client(server, "openai", tmp_path, limits=BatchLimits(4, BIG))
        job = client.batch.chat([f"p{i}" for i in range(10)])
        results = job.results()
    assert [r.text for r in results if isinstance(r, ChatResponse)] == [f"echo: p{i}" for i in range(10)]
    assert [len(batch.lines) for batch in server.batches.values()] == [4, 4, 2]
    assert len(job.batch_ids) == 3 and job.counts.total == 10 and job.status == "completed"


def test_a_job_over_the_byte_limit_is_cut_so_that_each_file_fits(server: BatchServer, tmp_path: Path) -> None:
    client = batch_client(server, "azure", tmp_path, limits=BatchLimits(1_000, 600))
    job = client.batch.chat([f"prompt number {i:03d}" for i in range(12)], keep_files=True)
    results = job.results()
    sizes = [len(server.files[batch.input_file_id]["bytes"]) for batch in server.batches.values()]
    assert len(sizes) > 1 and all(size <= 600 for size in sizes)
    assert [r.text for r in results if isinstance(r, ChatResponse)] == [
        f"echo: prompt number {i:03d}" for i in range(12)
    ]


def test_one_request_larger_than_a_batch_may_be_is_refused_before_any_upload(
    server: BatchServer, tmp_path: Path
) -> None:
    client = batch_client(server, "openai", tmp_path, limits=BatchLimits(1_000, 300))
    with pytest.raises(ValidationError, match=r"request 1 is .* bytes"):
        client.batch.chat(["short", "long " * 100])
    assert server.uploads == 0


def test_embeddings_are_batched_on_openai_split_at_the_input_limit_vectors_in_order(
    server: BatchServer, tmp_path: Path
) -> None:
    client = batch_client(server, "openai", tmp_path, limits=BatchLimits(100, BIG, max_embedding_inputs=3))
    texts = ["a", "bb", "ccc", "dddd", "eeeee", "ffffff", "g"]
    job = client.batch.embed(texts, dimensions=2)
    results = job.results()
    assert all(isinstance(r, EmbeddingResponse) for r in results)
    assert [r.vectors[0][0] for r in results if isinstance(r, EmbeddingResponse)] == [
        float(len(t)) for t in texts
    ]
    batches = list(server.batches.values())
    assert [len(b.lines) for b in batches] == [3, 3, 1] and batches[0].endpoint == "/v1/embeddings"
    assert batches[0].lines[0]["body"] == {
        "model": "text-embedding-3-small",
        "input": ["a"],
        "encoding_format": "base64",
        "dimensions": 2,
    }


@pytest.mark.parametrize("provider", ["azure", "azure_v1"])
def test_embeddings_on_azure_are_a_configuration_error_before_any_upload(
    server: BatchServer, provider: str, tmp_path: Path
) -> None:
    client = batch_client(server, provider, tmp_path)
    with pytest.raises(ConfigurationError, match="no Batch API for embeddings"):
        client.batch.embed(["a", "b"])
    assert server.requests == [] and list(tmp_path.iterdir()) == []
