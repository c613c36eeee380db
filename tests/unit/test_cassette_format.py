"""A cassette's entries without a server: what is written of a request and a response, and what comes back."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import httpx2
import pytest

from llmport.adapters.recording.cassette import Cassette
from llmport.adapters.recording.hook import CassetteMissError
from llmport.adapters.recording.scrub import SCRUBBED, Scrubber

URL = "https://r.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21"


def request(body: object = None, **headers: str) -> httpx2.Request:
    return httpx2.Request(
        "POST", URL, json=body or {"messages": [{"role": "user", "content": "hi"}]}, headers=headers
    )


def recorded(tmp_path: Path, *responses: httpx2.Response, asked: httpx2.Request | None = None) -> Cassette:
    """A cassette that recorded ``responses`` for the same request, then saved."""
    recorder = Cassette(tmp_path / "c.json", "record")
    answers = iter(responses)
    for _ in responses:
        recorder.handle(asked or request(), lambda _request: next(answers)).read()
    recorder.save()
    return Cassette(tmp_path / "c.json", "replay")


def test_a_stream_replays_one_chunk_per_event_and_keeps_unusual_lines_raw(tmp_path: Path) -> None:
    sse = (
        b'data: {"a":1}\n\n: a comment\n\nevent: response.created\ndata: {"b":[2]}\n\n'
        b'data: "quoted"\n\ndata: [DONE]\n\n[DONE]\n\n'
    )
    headers = {"content-type": "text/event-stream"}
    replaying = recorded(tmp_path, httpx2.Response(200, headers=headers, content=sse))
    events = json.loads((tmp_path / "c.json").read_text())["exchanges"][0]["response"]["events"]
    assert events == [
        {"data": {"a": 1}},
        {"raw": ": a comment"},
        {"event": "response.created", "data": {"b": [2]}},
        {"data": '"quoted"'},
        {"data": "[DONE]"},
        {"raw": "[DONE]"},
    ]
    chunks = list(replaying.handle(request(), pytest.fail).iter_raw())
    assert chunks == [block + b"\n\n" for block in sse.split(b"\n\n") if block]


def test_a_gzipped_reply_is_written_decoded_and_replayed_without_its_encoding(tmp_path: Path) -> None:
    body = {"choices": [{"message": {"content": "Paris"}}]}
    headers = {"content-type": "application/json", "content-encoding": "gzip", "date": "Tue, 08 Dec 2026"}
    replaying = recorded(
        tmp_path, httpx2.Response(200, headers=headers, content=gzip.compress(json.dumps(body).encode()))
    )
    written = json.loads((tmp_path / "c.json").read_text())["exchanges"][0]["response"]
    assert written == {"status": 200, "headers": {"content-type": "application/json"}, "body": body}
    assert replaying.handle(request(), pytest.fail).json() == body


def test_identical_requests_replay_in_recorded_order_and_other_headers_do_not_matter(tmp_path: Path) -> None:
    replaying = recorded(tmp_path, httpx2.Response(429, json={"n": 1}), httpx2.Response(200, json={"n": 2}))
    again = request(**{"x-stainless-retry-count": "1", "idempotency-key": "other", "user-agent": "x/2"})
    assert [replaying.handle(again, pytest.fail).json()["n"] for _ in range(2)] == [1, 2]
    with pytest.raises(CassetteMissError, match="all played already"):
        replaying.handle(request(), pytest.fail)


def test_the_body_matches_as_canonical_json_whatever_its_key_order(tmp_path: Path) -> None:
    replaying = recorded(tmp_path, httpx2.Response(200, json={}), asked=request({"a": 1, "b": [1, 2]}))
    reordered = httpx2.Request(
        "POST", URL, content=b'{"b": [1, 2],   "a": 1}', headers={"content-type": "application/json"}
    )
    assert replaying.handle(reordered, pytest.fail).status_code == 200


def test_a_miss_names_the_differing_fields_of_the_nearest_recording(tmp_path: Path) -> None:
    replaying = recorded(
        tmp_path, httpx2.Response(200, json={}), asked=request({"model": "d", "n": 1, "stop": ["x"]})
    )
    with pytest.raises(CassetteMissError) as miss:
        replaying.handle(request({"model": "d", "n": 2, "seed": 3}), pytest.fail)
    assert "body.n: 1 != 2" in str(miss.value)
    assert 'body.stop: recorded ["x"], absent now' in str(miss.value)
    assert "body.seed: absent from the recording, now 3" in str(miss.value)


def test_the_scrubber_replaces_secrets_where_they_stand_and_leaves_the_rest() -> None:
    scrubber = Scrubber(["s3cr3t-value\n", "abc"])
    assert scrubber.text("key s3cr3t-value!") == f"key {SCRUBBED}!"
    assert scrubber.text("abcdef abc") == "abcdef abc"  # a short secret only where it stands whole
    assert scrubber.value({"x": "abc"}) == {"x": SCRUBBED}
    assert scrubber.query("api-version=2024&sig=sig%2Bnature&sp=r") == f"api-version=2024&sig={SCRUBBED}&sp=r"
    # The signature was learned from the query: replaced elsewhere, decoded or not.
    assert scrubber.text("see sig+nature and sig%2Bnature") == f"see {SCRUBBED} and {SCRUBBED}"
    assert scrubber.value({"access_token": "t0k", "usage": {"total_tokens": 5}, "code": "429"}) == {
        "access_token": SCRUBBED,
        "usage": {"total_tokens": 5},
        "code": "429",
    }
    assert scrubber.header("x-ratelimit-remaining-tokens", "99") == "99"
    assert scrubber.header("Ocp-Apim-Subscription-Key", "k") == SCRUBBED
    assert scrubber.text('{"client_secret": "zz"} Bearer q.r.s eyJa.eyJb.c') == (
        f'{{"client_secret": "{SCRUBBED}"}} Bearer {SCRUBBED} {SCRUBBED}'
    )


def test_a_file_that_is_not_a_cassette_is_refused(tmp_path: Path) -> None:
    (tmp_path / "other.json").write_text('{"interactions": []}')
    with pytest.raises(ValueError, match="is not an llmport cassette"):
        Cassette(tmp_path / "other.json", "once")
    with pytest.raises(ValueError, match="once, replay or record"):
        Cassette(tmp_path / "c.json", "sometimes")  # type: ignore[arg-type]


def test_a_multipart_upload_matches_whatever_its_boundary(tmp_path: Path) -> None:
    def upload() -> httpx2.Request:  # a new random boundary each time, as the SDK's file uploads have
        files = {"file": ("batch.jsonl", b'{"custom_id": "1"}\n', "application/jsonl")}
        return httpx2.Request(
            "POST", "https://api.openai.com/v1/files", data={"purpose": "batch"}, files=files
        )

    first, second = upload(), upload()
    assert first.headers["content-type"] != second.headers["content-type"]
    replaying = recorded(tmp_path, httpx2.Response(200, json={"id": "file-1"}), asked=first)
    assert replaying.handle(second, pytest.fail).json() == {"id": "file-1"}
    written = json.loads((tmp_path / "c.json").read_text())["exchanges"][0]["request"]
    assert written["headers"]["content-type"] == "multipart/form-data; boundary=llmport-boundary"
    assert '{"custom_id": "1"}' in written["text"]
