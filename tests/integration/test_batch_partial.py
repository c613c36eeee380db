"""Expired and partly failed batches give what finished and an error per item; retry_failed sends only those;
the enqueued-token limit is waited out, not failed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from batch_server import BatchServer
from batch_wiring import batch_client

from llmport import ChatResponse, RateLimitedError, RequestTimeoutError
from llmport.domain.batch import BatchLimits

BIG = 200 * 1024 * 1024


def texts(results: list[Any]) -> list[str | None]:
    return [r.text if isinstance(r, ChatResponse) else None for r in results]


def test_an_expired_batch_returns_what_ran_and_a_retryable_error_for_each_request_left(
    tmp_path: Path,
) -> None:
    with BatchServer(auto=False) as server:
        job = batch_client(server, "openai", tmp_path).batch.chat([f"p{i}" for i in range(5)])
        server.expire(done=2)
        results = job.results(poll_interval=1.0)
    assert texts(results) == ["echo: p0", "echo: p1", None, None, None]
    for late in results[2:]:
        assert isinstance(late, RequestTimeoutError) and late.code == "batch_expired" and late.retryable
    assert job.status == "partial" and (job.counts.completed, job.counts.failed) == (2, 3)


def test_retry_failed_submits_only_the_failed_requests_and_their_replies_take_their_place(
    tmp_path: Path,
) -> None:
    refused = {"1", "3"}

    def flaky(custom_id: str, body: object) -> tuple[int, dict[str, Any]] | None:
        if custom_id in refused:
            refused.discard(custom_id)  # fails once
            return 429, {"error": {"message": "busy", "code": "rate_limit_exceeded", "type": "requests"}}
        return None

    with BatchServer(auto=False, item_error=flaky) as server:
        job = batch_client(server, "openai", tmp_path).batch.chat([f"p{i}" for i in range(6)])
        server.finish()
        first = job.results(poll_interval=1.0)
        assert isinstance(first[1], RateLimitedError) and isinstance(first[3], RateLimitedError)
        job.retry_failed()
        retry = server.batches[job.batch_ids[-1]]
        assert [line["custom_id"] for line in retry.lines] == ["1", "3"]
        server.finish()
        results = job.results(poll_interval=1.0)
    assert texts(results) == [f"echo: p{i}" for i in range(6)]
    assert job.status == "completed" and job.counts.failed == 0
    assert server.uploads == 2 and server.live_files() == []


def test_retry_failed_after_an_expiry_runs_the_rest_with_no_duplicate(tmp_path: Path) -> None:
    with BatchServer(auto=False) as server:
        job = batch_client(server, "azure", tmp_path).batch.chat([f"p{i}" for i in range(4)])
        server.expire(done=1)
        job.results(poll_interval=1.0)
        job.retry_failed()
        server.finish()
        assert texts(job.results(poll_interval=1.0)) == [f"echo: p{i}" for i in range(4)]
        assert server.duplicates() == 0  # an expired request never ran: sending it again is no duplicate


def test_batches_refused_for_the_enqueued_token_limit_are_submitted_again_as_room_frees(
    tmp_path: Path,
) -> None:
    # Each batch holds about 40 tokens; the limit lets one be enqueued at a time.
    with BatchServer(enqueued_token_limit=60) as server:
        client = batch_client(server, "openai", tmp_path, limits=BatchLimits(3, BIG))
        job = client.batch.chat([f"prompt {i:02d} " + "x" * 20 for i in range(9)])
        results = job.results(poll_interval=1.0)
        refusals = [
            b for b in server.batches.values() if b.errors and b.errors[0]["code"] == "token_limit_exceeded"
        ]
    assert texts(results) == [f"echo: prompt {i:02d} " + "x" * 20 for i in range(9)]
    assert refusals, "the limit was never reached: the test proves nothing"
    assert server.creates == 3 + len(refusals) and server.uploads == 3  # a refused batch reuses its file
    assert server.duplicates() == 0
    state = json.loads((Path(job.where) / "state.json").read_bytes())
    assert all(part["step"] == "done" for part in state["parts"])


def test_with_max_enqueued_tokens_a_batch_waits_for_room_instead_of_being_refused(tmp_path: Path) -> None:
    with BatchServer(enqueued_token_limit=60) as server:
        client = batch_client(server, "openai", tmp_path, limits=BatchLimits(3, BIG))
        prompts = [f"prompt {i:02d} " + "x" * 20 for i in range(9)]
        job = client.batch.chat(prompts, max_enqueued_tokens=60)  # the quota, counted as count_tokens counts
        assert len(job.batch_ids) == 1  # the others wait for room
        results = job.results(poll_interval=1.0)
    assert texts(results) == [f"echo: {p}" for p in prompts]
    assert server.creates == 3 and server.statuses() == ["completed"] * 3  # none refused


def test_the_tokens_a_batch_adds_to_the_queue_are_its_prompts_counted_as_count_tokens_counts(
    tmp_path: Path,
) -> None:
    with BatchServer() as server:
        client = batch_client(server, "openai", tmp_path, limits=BatchLimits(2, BIG))
        prompts = ["Classify: printer jammed", "Classify: VPN drops every hour", "Classify: refund 🙂"]
        job = client.batch.chat(prompts, system="One word.", max_enqueued_tokens=10_000)
        state = json.loads((Path(job.where) / "state.json").read_bytes())
        counted = [client.count_tokens(prompt, system="One word.").tokens for prompt in prompts]
        job.results(poll_interval=1.0)
    assert [part["tokens"] for part in state["parts"]] == [counted[0] + counted[1], counted[2]]
