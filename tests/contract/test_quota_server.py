"""The quota server enforces its limits, sends Azure's rate-limit headers, and llmport reads them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from clock import FakeClock
from quota_server import QuotaServer, QuotaStats

import llmport
from llmport.adapters.llm.wire.rate_limits import rate_hint_from_headers
from llmport.domain.budget import RateHint
from llmport.domain.errors import RateLimitedError

CHAT = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 40}  # charged 3 + 1 + 40 = 44


def post(server: QuotaServer, body: Any, op: str = "chat/completions") -> tuple[int, dict[str, str], Any]:
    """POST on the Azure classic shape; returns (status, lower-cased headers, JSON body)."""
    request = urllib.request.Request(  # noqa: S310  # our loopback URL
        f"{server.url}/openai/deployments/{server.deployment}/{op}?api-version=2024-10-21",
        data=json.dumps(body).encode(),
        headers={"api-key": server.api_key, "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:  # noqa: S310  # our loopback URL
            return reply.status, {k.lower(): v for k, v in reply.headers.items()}, json.load(reply)
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, json.load(error)


@pytest.fixture
def server(clock: FakeClock) -> Iterator[QuotaServer]:
    with QuotaServer("ptu", rpm=3, tpm=100, clock=clock) as running:
        yield running


def test_requests_per_minute_are_enforced_with_azures_headers(clock: FakeClock) -> None:
    with QuotaServer("ptu", rpm=3, clock=clock) as server:
        seen = []
        for _ in range(3):
            status, headers, _body = post(server, {"messages": [{"role": "user", "content": "hi"}]})
            seen.append((status, headers["x-ratelimit-remaining-requests"]))
            clock.now += 5
        assert seen == [(200, "2"), (200, "1"), (200, "0")]
        status, headers, body = post(server, {"messages": [{"role": "user", "content": "hi"}]})
        assert status == 429
        assert (headers["retry-after"], headers["retry-after-ms"]) == ("45", "45000")
        reset = (headers["x-ratelimit-remaining-requests"], headers["x-ratelimit-reset-requests"])
        assert reset == ("0", "45")
        assert "x-ratelimit-remaining-tokens" not in headers  # no token limit on this one
        assert body["error"]["code"] == "429" and "Please retry after 45 seconds" in body["error"]["message"]
        clock.now += 45  # the first request leaves the sliding minute
        assert post(server, {"messages": []})[0] == 200
        assert server.stats == QuotaStats(requests=5, accepted=4, accepted_tokens=3 * 20 + 16, throttled=1)


def test_tokens_per_minute_count_the_prompt_estimate_and_max_tokens(
    server: QuotaServer, clock: FakeClock
) -> None:
    assert post(server, CHAT)[1]["x-ratelimit-remaining-tokens"] == "56"
    clock.now += 10
    assert post(server, CHAT)[1]["x-ratelimit-remaining-tokens"] == "12"
    clock.now += 10
    status, headers, body = post(server, CHAT)
    assert status == 429 and "token rate limit" in body["error"]["message"]
    assert (headers["retry-after"], headers["retry-after-ms"], headers["x-ratelimit-reset-tokens"]) == (
        "40",
        "40000",
        "40",
    )
    hint = rate_hint_from_headers(headers)  # what a router's budget store will read
    assert hint == RateHint(remaining_requests=1, remaining_tokens=12, reset_requests=40, reset_tokens=40)
    assert post(server, {**CHAT, "max_tokens": 8})[0] == 200  # 12 tokens still fit
    assert server.stats == QuotaStats(requests=4, accepted=3, accepted_tokens=100, throttled=1)


def test_embeddings_and_charging_by_reported_usage(clock: FakeClock) -> None:
    with QuotaServer("emb", tpm=25, clock=clock) as server:
        assert post(server, {"input": ["a" * 40, "b" * 40]}, "embeddings")[0] == 200  # 10 + 10 tokens
        assert post(server, {"input": ["c" * 40]}, "embeddings")[0] == 429
    with QuotaServer("chat", tpm=40, charge="usage", clock=clock) as server:  # the default reply: 17
        assert [post(server, CHAT)[0] for _ in range(3)] == [200, 200, 429]
        assert server.stats.accepted_tokens == 34


def test_each_instance_is_one_deployment(clock: FakeClock) -> None:
    with QuotaServer("ptu", rpm=1, clock=clock) as ptu, QuotaServer("paygo", rpm=1, clock=clock) as paygo:
        assert (post(ptu, CHAT)[0], post(paygo, CHAT)[0]) == (200, 200)
        assert (post(ptu, CHAT)[0], post(paygo, CHAT)[0]) == (429, 429)
        wrong = QuotaServer("other")
        wrong.port = ptu.port  # same server, a deployment it does not serve
        status, _headers, body = post(wrong, CHAT)
        assert (status, body["error"]["code"]) == (404, "DeploymentNotFound")


def test_it_goes_down_refusing_connections_and_comes_back_on_its_port(server: QuotaServer) -> None:
    port = server.port
    server.go_down()
    with pytest.raises(urllib.error.URLError) as refused:
        post(server, CHAT)
    assert isinstance(refused.value.reason, ConnectionRefusedError)
    server.come_back()
    assert server.port == port
    assert post(server, CHAT)[0] == 200


@pytest.mark.parametrize("shape", ["azure", "azure_v1", "openai"])
def test_a_plain_client_sees_rate_limited_with_the_retry_hint(clock: FakeClock, shape: str) -> None:
    with QuotaServer("ptu", rpm=1, clock=clock) as server:
        config: dict[str, Any] = {"provider": shape, "api_key": server.api_key, "chat_model": "ptu"}
        config["max_retries"] = 0
        if shape == "openai":
            config["base_url"] = f"{server.url}/v1"
        else:
            config["endpoint"] = server.url
        if shape == "azure":
            config["api_version"] = "2024-10-21"
        with llmport.from_dict(config) as client:
            assert client.chat("hi").text == "pong"
            clock.now += 12.5
            with pytest.raises(RateLimitedError) as caught:
                client.chat("hi")
        assert (caught.value.status_code, caught.value.retry_after) == (429, 47.5)
        assert "rate limit" in caught.value.message
        assert server.stats == QuotaStats(requests=2, accepted=1, accepted_tokens=20, throttled=1)
