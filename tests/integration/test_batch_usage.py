"""A batch job's usage and cost, per job and in client.usage, at the batch price (half unless priced)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from batch_server import BatchServer
from batch_wiring import batch_client

from llmport import ChatResponse

PROMPTS = [f"p{i}" for i in range(4)]


@pytest.fixture
def server() -> Iterator[BatchServer]:
    with BatchServer() as running:
        yield running


def test_a_job_costs_half_the_price_per_job_and_in_client_usage(server: BatchServer, tmp_path: Path) -> None:
    prices = {"gpt-4o-mini": {"input": 1.0, "output": 4.0}}
    client = batch_client(server, "openai", tmp_path, prices=prices)
    job = client.batch.chat(PROMPTS)
    results = [r for r in job.results() if isinstance(r, ChatResponse)]
    prompt = sum(r.usage.prompt_tokens for r in results)
    completion = sum(r.usage.completion_tokens for r in results)
    assert prompt > 0 and completion == 3 * len(PROMPTS)
    full = (prompt * 1.0 + completion * 4.0) / 1_000_000
    assert job.cost == pytest.approx(full / 2)
    assert job.usage.prompt_tokens == prompt and job.usage.completion_tokens == completion
    report = client.usage
    assert report.calls == len(PROMPTS) and report.prompt_tokens == prompt
    assert report.cost == pytest.approx(full / 2)
    assert report.by_deployment["gpt-4o-mini"].calls == len(PROMPTS)
    job.results()
    assert client.usage.calls == len(PROMPTS)  # counted once, however often results() is read


def test_the_price_table_can_set_another_batch_share(server: BatchServer, tmp_path: Path) -> None:
    prices = {"gpt-4o-mini": {"input": 1.0, "output": 4.0, "batch": 0.25}}
    client = batch_client(server, "azure", tmp_path, prices=prices)
    job = client.batch.chat(PROMPTS)
    results = [r for r in job.results() if isinstance(r, ChatResponse)]
    full = sum(r.usage.prompt_tokens * 1.0 + r.usage.completion_tokens * 4.0 for r in results) / 1_000_000
    assert job.cost == pytest.approx(full / 4)
    assert all(r.cost is not None and r.cost.model == "gpt-4o-mini" for r in results)


def test_an_unpriced_job_counts_tokens_and_no_cost(server: BatchServer, tmp_path: Path) -> None:
    client = batch_client(server, "openai", tmp_path)
    job = client.batch.chat(PROMPTS)
    job.results()
    assert job.cost is None and client.usage.cost is None
    assert client.usage.total_tokens == job.usage.total_tokens > 0
