"""client.batch through the real openai SDK against the loopback Files + Batches server, three URL shapes."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from batch_server import BatchServer
from batch_wiring import batch_client

from llmport import (
    AuthenticationError,
    BadRequestError,
    ChatRequest,
    ChatResponse,
    ConfigurationError,
    ContentFilteredError,
    LLMPortError,
    Message,
    RateLimitedError,
    RequestTimeoutError,
)
from llmport.domain.batch import BatchCounts
from llmport.testing import FakeChat, fake_client

PROVIDERS = ("openai", "azure", "azure_v1")


@pytest.fixture
def server() -> Iterator[BatchServer]:
    with BatchServer() as running:
        yield running


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_job_returns_every_reply_in_input_order_and_cleans_up_its_files(
    server: BatchServer, provider: str, tmp_path: Path
) -> None:
    client = batch_client(server, provider, tmp_path)
    prompts = [f"question {i}" for i in range(7)]
    job = client.batch.chat(prompts, system="Be brief.", max_tokens=20)
    assert job.status == "in_progress"
    results = job.results()
    assert [r.text for r in results if isinstance(r, ChatResponse)] == [
        f"echo: question {i}" for i in range(7)
    ]
    assert job.status == "completed" and job.counts == BatchCounts(7, 7, 0)
    assert server.live_files() == []  # input, output: deleted
    assert server.uploads == 1 and server.creates == 1 and server.duplicates() == 0
    batch = server.batches[job.batch_ids[0]]
    body = batch.lines[0]["body"] if batch.lines else None
    assert body is not None and body["model"] == "gpt-4o-mini"  # the deployment name on Azure
    expected = "/v1/chat/completions" if provider == "openai" else "/chat/completions"
    assert batch.endpoint == expected
    paths = {path for _, path in server.requests}
    prefix = {"openai": "/v1/", "azure": "/openai/", "azure_v1": "/openai/v1/"}[provider]
    assert all(path.startswith(prefix) for path in paths)


def test_each_request_keeps_the_chat_options_and_chat_requests_go_as_they_are(
    server: BatchServer, tmp_path: Path
) -> None:
    client = batch_client(server, "openai", tmp_path)
    given = ChatRequest((Message.user("as is"),), model="gpt-4o-mini", temperature=0.1)
    job = client.batch.chat(["a", given], temperature=0.7, seed=3, keep_files=True)
    job.wait(poll_interval=1.0)
    lines = server.batches[job.batch_ids[0]].lines
    assert [line["custom_id"] for line in lines] == ["0", "1"]
    assert lines[0]["body"]["temperature"] == 0.7 and lines[0]["body"]["seed"] == 3
    assert lines[1]["body"]["temperature"] == 0.1 and "seed" not in lines[1]["body"]
    assert len(server.live_files()) == 2  # keep_files: input and output stay


def test_a_failed_item_is_its_domain_error_and_hides_no_other(tmp_path: Path) -> None:
    def refuse(custom_id: str, body: object) -> tuple[int, dict[str, object]] | None:
        if custom_id == "1":
            return 400, {
                "error": {"message": "filtered", "code": "content_filter", "type": None, "param": "prompt"}
            }
        if custom_id == "3":
            return 429, {"error": {"message": "slow down", "code": "rate_limit_exceeded", "type": "requests"}}
        return None

    with BatchServer(item_error=refuse) as server:
        job = batch_client(server, "azure", tmp_path).batch.chat([f"q{i}" for i in range(5)])
        results = job.results()
    assert [type(r).__name__ for r in results] == [
        "ChatResponse",
        "ContentFilteredError",
        "ChatResponse",
        "RateLimitedError",
        "ChatResponse",
    ]
    assert isinstance(results[1], ContentFilteredError) and results[1].provider == "azure"
    assert isinstance(results[3], RateLimitedError)
    assert job.status == "partial" and job.counts == BatchCounts(5, 3, 2)


def test_a_batch_the_provider_fails_makes_each_of_its_requests_an_error(tmp_path: Path) -> None:
    with BatchServer(auto=False) as server:
        job = batch_client(server, "openai", tmp_path).batch.chat(["a", "b"])
        server.fail(job.batch_ids[0], code="invalid_request", message="bad file")
        results = job.results(poll_interval=1.0)
    assert all(isinstance(r, BadRequestError) and "bad file" in r.message for r in results)
    assert job.status == "partial"


def test_wait_gives_up_at_its_deadline_and_the_job_goes_on(tmp_path: Path) -> None:
    with BatchServer(auto=False) as server:
        job = batch_client(server, "openai", tmp_path).batch.chat(["a"])
        with pytest.raises(RequestTimeoutError, match="did not end within 30"):
            job.wait(poll_interval=5.0, deadline=30.0)
        server.finish()
        assert job.wait(poll_interval=5.0).status == "completed"


def test_progress_is_reported_after_each_poll(server: BatchServer, tmp_path: Path) -> None:
    seen: list[BatchCounts] = []
    job = batch_client(server, "openai", tmp_path).batch.chat(["a", "b"])
    job.wait(poll_interval=1.0, progress=seen.append)
    assert seen[-1] == BatchCounts(2, 2, 0) and len(seen) >= 2


def test_cancel_returns_what_finished_and_an_error_for_the_rest(tmp_path: Path) -> None:
    with BatchServer(auto=False) as server:
        job = batch_client(server, "openai", tmp_path).batch.chat([f"q{i}" for i in range(4)])
        server.step()  # in progress
        job.cancel()
        server.finish()
        results = job.results(poll_interval=1.0)
    assert [isinstance(r, ChatResponse) for r in results] == [True, True, False, False]
    assert all(isinstance(r, LLMPortError) and r.code == "batch_cancelled" for r in results[2:])
    assert job.status == "cancelled"


def test_options_of_a_synchronous_call_and_a_missing_model_are_refused_before_any_upload(
    server: BatchServer, tmp_path: Path
) -> None:
    client = batch_client(server, "openai", tmp_path, chat_model=None)
    with pytest.raises(ConfigurationError, match="no model"):
        client.batch.chat(["a"])
    with pytest.raises(LLMPortError, match="synchronous call"):
        client.batch.chat(["a"], model="m", deadline=3.0)
    assert server.uploads == 0


def test_the_job_state_is_a_json_file_a_person_can_read(server: BatchServer, tmp_path: Path) -> None:
    job = batch_client(server, "openai", tmp_path).batch.chat(["a"], job_id="nightly-1")
    job.wait(poll_interval=1.0)
    state = json.loads((tmp_path / "nightly-1" / "state.json").read_bytes())
    assert job.where == str(tmp_path / "nightly-1")
    assert state["parts"][0]["step"] == "done" and state["parts"][0]["batch_id"] == job.batch_ids[0]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_job_on_the_responses_api_batches_the_responses_endpoint(
    server: BatchServer, provider: str, tmp_path: Path
) -> None:
    job = batch_client(server, provider, tmp_path).batch.chat(["a", "b"], api="responses")
    results = job.results()
    assert [r.text for r in results if isinstance(r, ChatResponse)] == ["echo: a", "echo: b"]
    batch = server.batches[job.batch_ids[0]]
    assert batch.endpoint == ("/v1/responses" if provider == "openai" else "/responses")
    assert server.duplicates() == 0


def test_the_fake_provider_batches_in_memory_with_its_scripted_replies_and_errors(tmp_path: Path) -> None:
    chat = FakeChat("first", RateLimitedError("busy"))
    with fake_client(chat) as client:
        job = client.batch.chat(["a", "b", "c"], state=tmp_path)
        results = job.results()
        assert [r.text if isinstance(r, ChatResponse) else type(r).__name__ for r in results] == [
            "first",
            "RateLimitedError",
            "fake reply to: c",
        ]
        assert job.status == "partial" and client.usage.calls == 2
        assert [m.text for request in chat.requests for m in request.messages] == ["a", "b", "c"]


def test_a_failure_that_may_pass_is_tried_again_at_the_next_poll_and_submits_nothing_twice(
    server: BatchServer, tmp_path: Path
) -> None:
    server.fail_next("POST", "/files", 503)  # the upload, refused before it is kept
    server.fail_next("GET", "/batches/", 429)
    server.fail_next("GET", "/content", 502)
    job = batch_client(server, "openai", tmp_path).batch.chat(["a", "b"])
    assert job.status == "in_progress" and server.uploads == 0  # chat() returned the job all the same
    assert [r.text for r in job.results(poll_interval=1.0) if isinstance(r, ChatResponse)] == [
        "echo: a",
        "echo: b",
    ]
    assert server.uploads == 1 and server.creates == 1 and server.duplicates() == 0


def test_a_failure_that_cannot_pass_is_raised_by_wait_and_the_job_can_go_on(
    server: BatchServer, tmp_path: Path
) -> None:
    job = batch_client(server, "azure", tmp_path).batch.chat(["a"])
    server.fail_next("GET", "/batches/", 401)
    with pytest.raises(AuthenticationError):
        job.wait(poll_interval=1.0)
    assert job.wait(poll_interval=1.0).status == "completed"


def test_a_refusal_while_submitting_names_the_saved_job_to_resume(
    server: BatchServer, tmp_path: Path
) -> None:
    client = batch_client(server, "openai", tmp_path)
    server.fail_next("POST", "/batches", 401)
    with pytest.raises(AuthenticationError, match=r"batch job night-7 is saved in .*resume\('night-7'\)"):
        client.batch.chat(["a"], job_id="night-7")
    results = client.batch.resume("night-7").results(poll_interval=1.0)
    assert [r.text for r in results if isinstance(r, ChatResponse)] == ["echo: a"]
    assert server.uploads == 1 and server.creates == 1


def test_a_structured_output_class_is_parsed_into_each_reply(tmp_path: Path) -> None:
    @dataclasses.dataclass
    class Ticket:
        kind: str

    with BatchServer(reply_text=lambda number: json.dumps({"kind": f"k{number}"})) as server:
        job = batch_client(server, "openai", tmp_path).batch.chat(["a", "b"], response_format=Ticket)
        results = job.results()
        body = server.batches[job.batch_ids[0]].lines[0]["body"]
    assert [r.parsed for r in results if isinstance(r, ChatResponse)] == [Ticket("k0"), Ticket("k1")]
    assert body["response_format"]["type"] == "json_schema"
