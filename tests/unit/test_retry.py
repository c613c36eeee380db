"""The retry policy: jittered capped backoff, Retry-After, deadline, what is retried, one re-auth."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from llmport.domain.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConnectionFailedError,
    ContentFilteredError,
    LLMPortError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    QuotaExceededError,
    RateLimitedError,
    RequestTimeoutError,
    ServiceUnavailableError,
)
from llmport.services.retry import Retrier, RetryEvent, RetryPolicy

if TYPE_CHECKING:
    from clock import FakeClock


class Script:
    """An operation that raises the scripted errors in turn, then returns "done"; counts calls."""

    def __init__(self, *errors: BaseException, clock: FakeClock | None = None, takes: float = 0.0) -> None:
        self.errors = list(errors)
        self.calls = 0
        self.clock = clock
        self.takes = takes

    def __call__(self) -> str:
        self.calls += 1
        if self.clock is not None:
            self.clock.advance(self.takes)
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def unavailable() -> ServiceUnavailableError:
    return ServiceUnavailableError("down", provider="fake", status_code=503)


def retrier(clock: FakeClock, rand: Callable[[], float] = lambda: 0.5, **policy: Any) -> Retrier:
    return Retrier(RetryPolicy(**policy), sleep=clock.sleep, clock=clock, rand=rand)


def test_delay_is_full_jitter_over_a_doubling_ceiling_capped_at_max_backoff() -> None:
    policy = RetryPolicy(initial_backoff=0.5, max_backoff=8.0)
    error = unavailable()
    assert [policy.delay(n, error, 0.5) for n in range(7)] == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert policy.delay(3, error, 0.0) == 0.0
    assert policy.delay(10_000, error, 0.999) == pytest.approx(8.0 * 0.999)


def test_backoff_waits_follow_the_jitter_exactly_and_stop_at_the_cap(clock: FakeClock) -> None:
    rands = iter([0.1, 0.9, 0.5, 0.75, 1.0 - 1e-9])
    operation = Script(*(unavailable() for _ in range(5)))
    result = retrier(clock, lambda: next(rands), max_retries=5, initial_backoff=1.0, max_backoff=4.0).call(
        operation
    )
    assert result == "done"
    assert operation.calls == 6
    assert clock.sleeps == pytest.approx([0.1, 1.8, 2.0, 3.0, 4.0])


def test_rate_limit_retry_after_is_honoured_up_to_the_cap(clock: FakeClock) -> None:
    operation = Script(
        RateLimitedError("slow down", retry_after=3.0),  # longer than the jitter: wait it
        RateLimitedError("slow down", retry_after=0.01),  # shorter than the jitter: the jitter wins
        RateLimitedError("slow down", retry_after=120.0),  # longer than the cap: wait the cap
    )
    result = retrier(clock, max_retries=3, initial_backoff=1.0, max_retry_after=30.0, deadline=None).call(
        operation
    )
    assert result == "done"
    assert clock.sleeps == [3.0, 1.0, 30.0]


def test_deadline_stops_retries_when_the_next_wait_would_cross_it(clock: FakeClock) -> None:
    # Each attempt takes 2 s and each 429 asks for 3 s: t=2 wait, t=7 wait, t=12 + 3 >= 14 stop.
    errors = [RateLimitedError("busy", retry_after=3.0) for _ in range(10)]
    operation = Script(*errors, clock=clock, takes=2.0)
    started = clock()
    with pytest.raises(RateLimitedError) as raised:
        retrier(clock, max_retries=10, deadline=14.0).call(operation)
    assert raised.value is errors[2]
    assert operation.calls == 3
    assert clock.sleeps == [3.0, 3.0]
    assert clock() - started < 14.0


@pytest.mark.parametrize(
    "error",
    [
        BadRequestError("bad", status_code=400),
        AuthenticationError("who?", status_code=401),
        PermissionDeniedError("no", status_code=403),
        NotFoundError("where?", status_code=404),
        ContentFilteredError("filtered", status_code=400, code="content_filter"),
        QuotaExceededError("quota", status_code=429, code="insufficient_quota"),
    ],
    ids=type,
)
def test_non_retryable_errors_are_raised_after_one_attempt(clock: FakeClock, error: LLMPortError) -> None:
    operation = Script(error)
    with pytest.raises(type(error)) as raised:
        retrier(clock, max_retries=5).call(operation)
    assert raised.value is error
    assert operation.calls == 1
    assert clock.sleeps == []


@pytest.mark.parametrize(
    "error",
    [
        RateLimitedError("429", status_code=429),
        ServiceUnavailableError("500", status_code=500),
        ConnectionFailedError("reset"),
        RequestTimeoutError("408", status_code=408),
        ProviderError("409", status_code=409, retryable=True),
    ],
    ids=type,
)
def test_transient_errors_are_retried_until_the_operation_succeeds(
    clock: FakeClock, error: LLMPortError
) -> None:
    operation = Script(error, error)
    assert retrier(clock, max_retries=2).call(operation) == "done"
    assert operation.calls == 3
    assert len(clock.sleeps) == 2


def test_the_last_error_is_raised_once_max_retries_are_spent(clock: FakeClock) -> None:
    errors = [unavailable() for _ in range(4)]
    operation = Script(*errors)
    with pytest.raises(ServiceUnavailableError) as raised:
        retrier(clock, max_retries=2).call(operation)
    assert raised.value is errors[2]
    assert operation.calls == 3
    assert len(clock.sleeps) == 2


def test_zero_max_retries_makes_exactly_one_attempt(clock: FakeClock) -> None:
    operation = Script(unavailable())
    with pytest.raises(ServiceUnavailableError):
        retrier(clock, max_retries=0).call(operation)
    assert operation.calls == 1


def test_unauthorized_refreshes_and_retries_once_at_once_outside_the_retry_budget(clock: FakeClock) -> None:
    refreshes: list[bool] = []
    events: list[RetryEvent] = []
    operation = Script(AuthenticationError("stale token", status_code=401))
    result = retrier(clock, max_retries=0).call(
        operation, on_unauthorized=lambda _error: refreshes.append(True) or True, on_retry=events.append
    )
    assert result == "done"
    assert operation.calls == 2
    assert refreshes == [True]
    assert clock.sleeps == []
    assert [(event.attempt, event.reason, event.delay) for event in events] == [(1, "unauthorized", 0.0)]


def test_a_second_unauthorized_is_raised_without_another_refresh(clock: FakeClock) -> None:
    refreshes: list[bool] = []
    second = AuthenticationError("really unauthorized", status_code=401)
    operation = Script(AuthenticationError("stale", status_code=401), second, clock=None)
    with pytest.raises(AuthenticationError) as raised:
        retrier(clock, max_retries=3).call(
            operation, on_unauthorized=lambda _error: refreshes.append(True) or True
        )
    assert raised.value is second
    assert operation.calls == 2
    assert refreshes == [True]


def test_unauthorized_after_a_transient_retry_still_gets_its_one_refresh(clock: FakeClock) -> None:
    operation = Script(unavailable(), AuthenticationError("stale", status_code=401), unavailable())
    assert retrier(clock, max_retries=2).call(operation, on_unauthorized=lambda _error: True) == "done"
    assert operation.calls == 4
    assert len(clock.sleeps) == 2


def test_unauthorized_is_raised_when_nothing_can_be_refreshed(clock: FakeClock) -> None:
    operation = Script(AuthenticationError("no", status_code=401))
    with pytest.raises(AuthenticationError):
        retrier(clock).call(operation, on_unauthorized=lambda _error: False)
    assert operation.calls == 1
    operation = Script(AuthenticationError("no", status_code=401))
    with pytest.raises(AuthenticationError):
        retrier(clock).call(operation)
    assert operation.calls == 1


def test_an_authentication_error_without_a_401_is_raised_without_asking_for_a_token(clock: FakeClock) -> None:
    asked: list[AuthenticationError] = []
    for status in (None, 403):  # a credential that gave no token; a status other than 401
        failure = AuthenticationError("no token", status_code=status)
        operation = Script(failure)
        with pytest.raises(AuthenticationError) as raised:
            retrier(clock, max_retries=3).call(
                operation, on_unauthorized=lambda error: asked.append(error) or True
            )
        assert raised.value is failure
        assert operation.calls == 1
    assert asked == []
    assert clock.sleeps == []


def test_foreign_exceptions_are_not_retried(clock: FakeClock) -> None:
    operation = Script(KeyError("bug"))
    with pytest.raises(KeyError):
        retrier(clock, max_retries=5).call(operation)
    assert operation.calls == 1
    assert clock.sleeps == []


def test_every_retry_is_reported_before_its_wait(clock: FakeClock) -> None:
    first, second = unavailable(), RateLimitedError("busy", retry_after=2.0)
    events: list[tuple[int, LLMPortError, float, int]] = []
    operation = Script(first, second)
    retrier(clock, max_retries=2, initial_backoff=1.0).call(
        operation,
        on_retry=lambda event: events.append((event.attempt, event.error, event.delay, len(clock.sleeps))),
    )
    assert events == [(1, first, 0.5, 0), (2, second, 2.0, 1)]


@pytest.mark.parametrize(
    ("limits", "setting"),
    [
        ({"max_retries": -1}, "max_retries"),
        ({"deadline": 0}, "deadline"),
        ({"max_backoff": -1.0}, "max_backoff"),
    ],
)
def test_impossible_limits_are_configuration_errors(limits: dict[str, Any], setting: str) -> None:
    with pytest.raises(ConfigurationError, match=setting):
        RetryPolicy(**limits)
