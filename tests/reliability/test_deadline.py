"""The deadline is a promise: a call (all attempts, waits, batches, a stream's reading) ends by it.

Real time, real sockets: raw servers on 127.0.0.1 drip a byte at a time, stall, or stream one
event every 1.5 s, and every (provider, operation) runs against each at once, on threads, so the
whole table costs one deadline. httpx's per-operation timeout never trips on a drip; only the
deadline can end those calls.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from deadline_run import DEADLINE, FAULTS, SLACK, measure
from dependency_injector import providers
from harness import PROVIDERS, raw_settings, settings_for
from loopback import LoopbackServer, Reply
from raw_server import RawServer, slow_stream
from wire_samples import embedding_list, openai_error, vector_for

import llmport
from llmport import AccessToken, LLMPortError, RateLimitedError, RequestTimeoutError
from llmport.testing import Container


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_every_call_ends_within_its_deadline(fault: str) -> None:
    for provider, name, elapsed, error in measure(fault):
        assert isinstance(error, LLMPortError), (provider, name, error)
        assert elapsed <= DEADLINE + SLACK, (provider, name, elapsed, error)
        if fault != "stall":
            # Nothing but the deadline can end these: every socket wait returns within the timeout.
            # (A stalled call may also end earlier, when a retry's wait would cross the deadline.)
            assert "deadline" in str(error), (provider, name, error)


def test_a_stream_that_outlives_the_deadline_is_cut_after_the_text_so_far() -> None:
    with (
        RawServer(slow_stream(interval=0.3)) as server,
        llmport.build_client(raw_settings(server.url, "openai", timeout=5.0)) as client,
    ):
        received: list[str] = []
        started = time.monotonic()
        with pytest.raises(llmport.StreamInterruptedError, match="deadline") as caught:
            for chunk in client.stream("hi"):
                received.append(chunk.text)
        elapsed = time.monotonic() - started
    assert DEADLINE - 0.5 <= elapsed <= DEADLINE + SLACK
    assert len(received) >= 3  # the text that came in time reached the caller
    assert caught.value.retryable is False


@pytest.mark.parametrize("provider", PROVIDERS)
def test_embedding_batches_share_one_deadline(provider: str) -> None:
    # Each batch meets one 429 (retry after 1 s) before it succeeds. With a deadline per batch
    # all three would pass (3 s); with one per call, the third batch's wait would cross it.
    def responder(index: int, request: Any) -> Reply:
        if index % 2 == 0:
            busy = openai_error("slow down", code="rate_limit_exceeded", type="requests")
            return Reply(429, busy, headers={"retry-after": "1"})
        vectors = [vector_for(i, 4) for i in range(len(request.body["input"]))]
        return Reply(200, embedding_list(vectors))

    with LoopbackServer() as server:
        server.respond_with(responder)
        settings = raw_settings(
            server.url, provider, api_key=server.api_key, deadline=2.5, embedding_batch_size=1
        )
        with llmport.build_client(settings) as client:
            started = time.monotonic()
            # The third batch's 429 asks for a wait that would cross the deadline; on a busy
            # machine the deadline may instead pass while that request is under way.
            with pytest.raises((RateLimitedError, RequestTimeoutError)):
                client.embed(["one", "two", "three"])
            elapsed = time.monotonic() - started
        assert server.count == 5  # batch 1: 429, 200; batch 2: 429, 200; batch 3: 429, and no wait
    assert 1.8 <= elapsed <= 2.5 + SLACK


class SlowCredential:
    """A credential whose first token takes as long as the test says (a stalled token endpoint)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def get_token(self, *scopes: str, claims: str | None = None) -> AccessToken:
        self.calls += 1
        self.release.wait(10)
        return AccessToken(f"slow-token-{self.calls}", time.time() + 3600)


@pytest.mark.parametrize("provider", ["azure", "azure_v1"])
def test_a_stalled_token_endpoint_does_not_outlast_the_deadline(provider: str) -> None:
    credential = SlowCredential()
    with LoopbackServer(accept_token=lambda token: token.startswith("slow-token-")) as server:
        settings = settings_for(server, provider, auth="entra", deadline=1.0)
        container = Container(settings=settings)
        container.credential.override(providers.Object(credential))
        with llmport.build_client(settings, container) as client:
            started = time.monotonic()
            with pytest.raises(RequestTimeoutError, match="token"):
                client.chat("hi")
            assert time.monotonic() - started <= 1.0 + SLACK
            assert server.count == 0
            credential.release.set()
            for thread in threading.enumerate():
                if thread.name == "llmport-token":
                    thread.join(5)
            # The token that came late was kept: the next call uses it without asking again.
            assert client.chat("again").text
            assert credential.calls == 1
            assert server.last.headers["authorization"] == "Bearer slow-token-1"
