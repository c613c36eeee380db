"""What a replay does: errors and retries as recorded, misses named, Entra ID offline, stable files."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx2
import pytest
from harness import API_VERSION, CHAT_MODEL, wire
from loopback import LoopbackServer, Reply
from token_endpoint import TokenEndpoint, point_managed_identity_at, refuse_off_machine
from wire_samples import azure_error, chat_completion, openai_error

import llmport
from llmport.testing import CassetteMissError, cassette

PROMPT = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.mark.parametrize("provider", ["openai", "azure"])
def test_a_429_with_retry_after_replays_as_one_and_the_retry_sleeps_the_same(
    provider: str, tmp_path: Path
) -> None:
    path = tmp_path / "retry.json"
    error = (
        openai_error("Rate limit.", code=None) if provider == "openai" else azure_error("429", "Rate limit.")
    )
    with LoopbackServer() as server:
        server.script(
            Reply(429, error, headers={"retry-after-ms": "1500"}),
            Reply(429, error, headers={"retry-after": "2"}),
        )
        recorded = wire(server, provider, max_retries=3)
        with cassette(path):
            text = recorded.client.chat(PROMPT).text
        assert server.count == 3
    # The two 429s and the 200 are one request sent three times: replayed in recorded order.
    replayed = wire(server, provider, max_retries=3)
    with cassette(path) as replaying:
        assert replayed.client.chat(PROMPT).text == text
    assert replaying.played == 3
    assert replayed.time.slept == recorded.time.slept == [1.5, 2.0]
    statuses = [exchange["response"]["status"] for exchange in json.loads(path.read_text())["exchanges"]]
    assert statuses == [429, 429, 200]
    # Without retries, the first recording alone answers: the 429 itself, its Retry-After kept.
    no_retries = wire(server, provider, max_retries=0)
    with cassette(path), pytest.raises(llmport.RateLimitedError) as caught:
        no_retries.client.chat(PROMPT)
    assert caught.value.retry_after == 1.5


def test_a_request_with_no_recording_names_the_nearest_and_what_differs_and_sends_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "miss.json"
    with LoopbackServer() as server:
        wiring = wire(server, "azure", max_retries=3)
        with cassette(path):
            wiring.client.chat(PROMPT, temperature=0.5)
        sent = server.count
        with cassette(path), pytest.raises(CassetteMissError) as caught:
            wiring.client.chat(
                [{"role": "user", "content": "What is the capital of Spain?"}], temperature=0.2
            )
        assert server.count == sent  # nothing went out, and nothing was retried
    message = str(caught.value)
    assert f"POST /openai/deployments/{CHAT_MODEL}/chat/completions?api-version={API_VERSION}" in message
    assert (
        'body.messages[0].content: "What is the capital of France?" != "What is the capital of Spain?"'
        in message
    )
    assert "body.temperature: 0.5 != 0.2" in message
    assert "LLMPORT_RECORD_MODE=record" in message
    # A request recorded once and asked twice: the second has no recording left.
    with cassette(path):
        wiring.client.chat(PROMPT, temperature=0.5)
        with pytest.raises(CassetteMissError, match="all played already"):
            wiring.client.chat(PROMPT, temperature=0.5)


def test_re_recording_an_unchanged_exchange_leaves_the_file_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "stable.json"
    files = []
    for _ in range(2):
        with LoopbackServer() as server:  # a new port each time: the host is not written
            wiring = wire(server, "azure")
            with cassette(path, mode="record"):
                wiring.client.chat(PROMPT)
                list(wiring.client.stream(PROMPT))
                wiring.client.embed(["a"])
            wiring.client.close()
        files.append(path.read_bytes())
    assert files[0] == files[1]
    data = json.loads(files[0])
    assert files[0].decode() == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    first = data["exchanges"][0]
    assert first["request"]["body"]["messages"] == PROMPT  # JSON as JSON, not a string
    assert first["request"]["headers"]["api-key"] == "<scrubbed>"
    assert not {"user-agent", "x-stainless-os", "x-stainless-retry-count"} & set(first["request"]["headers"])
    assert "date" not in first["response"]["headers"]


def test_an_unreachable_server_is_recorded_and_replayed_as_a_connection_failure(tmp_path: Path) -> None:
    path = tmp_path / "refused.json"
    settings = llmport.Settings(
        provider="openai",
        base_url="http://127.0.0.1:9/v1",
        api_key="k" * 20,
        max_retries=0,
        chat_model="gpt-4o-mini",
    )
    with llmport.build_client(settings) as client:
        with cassette(path), pytest.raises(llmport.ConnectionFailedError):
            client.chat(PROMPT)
        assert json.loads(path.read_text())["exchanges"][0]["error"]["type"] == "ConnectError"
        with cassette(path, mode="replay"), pytest.raises(llmport.ConnectionFailedError):
            client.chat(PROMPT)


def test_entra_id_records_with_a_real_token_endpoint_and_replays_without_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "entra.json"
    refused = refuse_off_machine(monkeypatch)
    settings_of = lambda url: llmport.Settings(  # noqa: E731
        provider="azure", endpoint=url, api_version=API_VERSION, chat_model=CHAT_MODEL,
        auth="entra", credential="managed_identity", max_retries=0,
    )  # fmt: skip
    with TokenEndpoint(prefix="eyJhbGciOiJub25lIn0.eyJzdWIiOiJ0ZXN0In0.") as identity:
        point_managed_identity_at(identity, monkeypatch)
        with LoopbackServer(accept_token=lambda token: token.startswith("eyJ")) as server:
            with llmport.build_client(settings_of(server.url)) as client, cassette(path):
                text = client.chat(PROMPT).text
            url = server.url
        issued = identity.issued
    assert len(issued) == 1
    # Neither the identity platform nor the server is there now; the token is never in the file.
    with llmport.build_client(settings_of(url)) as client, cassette(path, mode="replay"):
        assert client.chat(PROMPT).text == text
    written = path.read_text()
    assert issued[0] not in written and "eyJ" not in written
    assert json.loads(written)["exchanges"][0]["request"]["headers"]["authorization"] == "<scrubbed>"
    assert refused == []


def test_a_users_own_http_client_goes_through_the_cassette_too(tmp_path: Path) -> None:
    path = tmp_path / "own.json"
    with LoopbackServer() as server:
        own = httpx2.Client()
        wiring = wire(server, "openai")
        settings = wiring.settings
        with llmport.build_client(settings, http_client=own) as client, cassette(path) as recording:
            text = client.chat(PROMPT).text
            # The application's own request on that client, outside an llmport call: not the cassette's.
            assert own.get(f"{server.url}/health").status_code in (404, 501)
        assert len(recording.recorded) == 1
    with llmport.build_client(settings, http_client=own) as client, cassette(path, mode="replay"):
        assert client.chat(PROMPT).text == text
    own.close()


def test_threads_the_cassette_did_not_start_are_recorded_and_replayed(tmp_path: Path) -> None:
    path = tmp_path / "threads.json"
    prompts = [[{"role": "user", "content": f"question {n}"}] for n in range(4)]

    def ask_all(client: llmport.Client) -> dict[int, str]:
        answers: dict[int, str] = {}
        threads = [
            threading.Thread(target=lambda n=n: answers.__setitem__(n, client.chat(prompts[n]).text))
            for n in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        return answers

    with LoopbackServer() as server:
        server.respond_with(
            lambda _index, request: Reply(
                body=chat_completion(request.body["messages"][0]["content"].upper())
            )
        )
        wiring = wire(server, "openai")
        with cassette(path):
            live = ask_all(wiring.client)
    with cassette(path, mode="replay"):
        assert ask_all(wiring.client) == live == {n: f"QUESTION {n}" for n in range(4)}
