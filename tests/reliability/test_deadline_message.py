"""When the deadline is shorter than a 429's Retry-After, the error says the deadline is why (issue 19, 6)."""

from __future__ import annotations

import pytest
from clock import FakeClock
from harness import PROVIDERS, wire
from loopback import LoopbackServer, Reply
from wire_samples import openai_error

from llmport import RateLimitedError, ServiceUnavailableError
from llmport.services.retry import Retrier, RetryPolicy


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_retry_after_longer_than_the_deadline_is_named_as_why_the_call_did_not_wait(
    server: LoopbackServer, provider: str
) -> None:
    server.script(
        Reply(
            429, openai_error("Rate limit reached", code="rate_limit_exceeded"), headers={"retry-after": "30"}
        )
    )
    wiring = wire(server, provider, deadline=2.0, max_retries=3)
    with wiring.client as client, pytest.raises(RateLimitedError) as raised:
        client.chat("hi")

    assert server.count == 1
    assert wiring.time.sleeps == []
    assert raised.value.retry_after == 30.0
    assert raised.value.message == (
        "Rate limit reached; Retry-After 30 s exceeds what is left of the deadline (2.0 s); not waited"
    )


def test_a_backoff_longer_than_what_is_left_says_so_too_and_only_once() -> None:
    clock = FakeClock(100.0)
    retrier = Retrier(
        RetryPolicy(max_retries=5, initial_backoff=4.0, deadline=3.0),
        sleep=clock.sleep,
        clock=clock,
        rand=lambda: 0.9,
    )
    error = ServiceUnavailableError("upstream busy")

    def fail() -> None:
        clock.now += 0.5  # the attempt took half a second
        raise error

    for _ in range(2):  # the same error raised by two calls (a fake replays it): said once
        with pytest.raises(ServiceUnavailableError) as raised:
            retrier.call(fail)
    assert raised.value.message == (
        "upstream busy; the wait before the next retry (3.6 s) exceeds what is left of the deadline (2.5 s); "
        "not waited"
    )
    assert clock.now == 101.0  # two attempts, no sleep


def test_a_short_retry_after_is_not_blamed_when_the_backoff_was_the_longer_wait() -> None:
    clock = FakeClock(100.0)
    retrier = Retrier(
        RetryPolicy(max_retries=5, initial_backoff=4.0, deadline=3.0),
        sleep=clock.sleep,
        clock=clock,
        rand=lambda: 0.9,
    )

    def fail() -> None:
        raise RateLimitedError("slow down", retry_after=0.5)

    with pytest.raises(RateLimitedError) as raised:
        retrier.call(fail)
    assert raised.value.message == (
        "slow down; the wait before the next retry (3.6 s) exceeds what is left of the deadline (3.0 s); "
        "not waited"
    )
