"""The loopback Files + Batches server, driven by the raw openai SDK: it answers as the real APIs do."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from batch_server import BatchServer

API_VERSION = "2024-10-21"


@pytest.fixture
def server() -> Iterator[BatchServer]:
    with BatchServer() as running:
        yield running


def sdk(server: BatchServer, shape: str = "openai") -> openai.OpenAI:
    if shape == "azure":
        return openai.AzureOpenAI(
            azure_endpoint=server.url, api_key=server.api_key, api_version=API_VERSION, max_retries=0
        )
    base = f"{server.url}/v1" if shape == "openai" else f"{server.url}/openai/v1"
    return openai.OpenAI(base_url=base, api_key=server.api_key, max_retries=0)


def jsonl(lines: list[dict[str, Any]]) -> io.BytesIO:
    return io.BytesIO(b"".join(json.dumps(line).encode() + b"\n" for line in lines))


def chat_line(
    custom_id: str, text: str, *, url: str = "/v1/chat/completions", model: str | None = "m"
) -> dict[str, Any]:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": text}]}
    if model is not None:
        body["model"] = model
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body}


def run(client: openai.OpenAI, lines: list[dict[str, Any]], endpoint: str = "/v1/chat/completions") -> Any:
    upload = client.files.create(file=("in.jsonl", jsonl(lines)), purpose="batch")
    batch = client.batches.create(input_file_id=upload.id, endpoint=endpoint, completion_window="24h")  # type: ignore[arg-type]
    seen = [batch.status]
    while batch.status not in ("completed", "failed", "expired", "cancelled"):
        batch = client.batches.retrieve(batch.id)
        seen.append(batch.status)
    return batch, seen


@pytest.mark.parametrize("shape", ["openai", "azure", "azure_v1"])
def test_a_batch_goes_through_its_states_and_its_output_matches_by_custom_id(
    server: BatchServer, shape: str
) -> None:
    client = sdk(server, shape)
    url = "/v1/chat/completions" if shape == "openai" else "/chat/completions"
    lines = [chat_line(f"r{i}", f"hello {i}", url=url) for i in range(5)]
    batch, seen = run(client, lines, url)
    assert seen == ["validating", "in_progress", "finalizing", "completed"]
    assert batch.request_counts.total == 5 and batch.request_counts.completed == 5
    rows = [json.loads(line) for line in client.files.content(batch.output_file_id).text.splitlines()]
    assert [row["custom_id"] for row in rows] == [f"r{i}" for i in reversed(range(5))]  # no order promised
    by_id = {row["custom_id"]: row["response"]["body"]["choices"][0]["message"]["content"] for row in rows}
    assert by_id == {f"r{i}": f"echo: hello {i}" for i in range(5)}
    assert server.duplicates() == 0


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        ([chat_line("a", "x"), chat_line("a", "y")], "duplicate_custom_id"),
        ([chat_line("a", "x", url="/v1/embeddings")], "mismatched_url"),
        ([chat_line("a", "x", model=None)], "missing_required_parameter"),
        ([chat_line("a", "x", model="m1"), chat_line("b", "y", model="m2")], "mismatched_model"),
        ([{**chat_line("a", "x"), "method": "GET"}], "invalid_value"),
    ],
)
def test_a_file_that_breaks_a_rule_fails_its_batch_with_the_error_listed(
    server: BatchServer, lines: list[dict[str, Any]], code: str
) -> None:
    batch, seen = run(sdk(server), lines)
    assert seen[-1] == "failed"
    assert code in [error.code for error in batch.errors.data]
    assert server.accepted == {}


def test_the_request_count_limit_fails_the_batch_and_the_byte_limit_refuses_the_upload() -> None:
    with BatchServer(limits={"openai": (3, 2_000)}) as server:
        client = sdk(server)
        batch, _ = run(client, [chat_line(f"r{i}", "x") for i in range(4)])
        assert [error.code for error in batch.errors.data] == ["too_many_requests"]
        with pytest.raises(openai.BadRequestError, match="too large"):
            client.files.create(file=("in.jsonl", jsonl([chat_line("r", "x" * 3_000)])), purpose="batch")


def test_azure_classic_needs_an_api_version_and_every_shape_checks_the_key(server: BatchServer) -> None:
    bare = openai.OpenAI(base_url=f"{server.url}/openai", api_key=server.api_key, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        bare.batches.list()
    wrong = openai.OpenAI(base_url=f"{server.url}/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.batches.list()


def test_the_enqueued_token_limit_fails_a_batch_with_token_limit_exceeded_until_room_frees() -> None:
    with BatchServer(auto=False, enqueued_token_limit=40) as server:
        client = sdk(server)
        lines = [chat_line("a", "x" * 100)]
        first = client.batches.create(
            input_file_id=client.files.create(file=("a.jsonl", jsonl(lines)), purpose="batch").id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
        )
        server.step(first.id)  # in progress: its tokens are enqueued
        second = client.batches.create(
            input_file_id=client.files.create(
                file=("b.jsonl", jsonl([chat_line("b", "y" * 100)])), purpose="batch"
            ).id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
        )
        server.step(second.id)
        refused = client.batches.retrieve(second.id)
        assert refused.status == "failed"
        assert refused.errors.data[0].code == "token_limit_exceeded"
        assert "Enqueued token limit reached" in refused.errors.data[0].message


def test_expired_and_cancelled_batches_return_what_ran_and_an_error_line_for_the_rest() -> None:
    with BatchServer(auto=False) as server:
        client = sdk(server)
        upload = client.files.create(
            file=("a.jsonl", jsonl([chat_line(f"r{i}", "x") for i in range(4)])), purpose="batch"
        )
        batch = client.batches.create(
            input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        server.expire(batch.id, done=1)
        expired = client.batches.retrieve(batch.id)
        assert expired.status == "expired"
        errors = [json.loads(line) for line in client.files.content(expired.error_file_id).text.splitlines()]
        assert [(e["custom_id"], e["error"]["code"]) for e in errors] == [
            (f"r{i}", "batch_expired") for i in (1, 2, 3)
        ]
        listed = client.batches.list(limit=1)
        assert [b.id for b in listed.data] == [batch.id]
        client.files.delete(upload.id)
        assert upload.id in server.deleted
