"""Load: 32 threads share one Client for 5,000 calls against a seeded 5% of 429s and 2% of 503s."""

from __future__ import annotations

import pytest
from load_run import MAX_ATTEMPTS, LoadFigures, run_load

CALLS = 5_000
THREADS = 32


@pytest.fixture(scope="module")
def figures() -> LoadFigures:
    return run_load(calls=CALLS, threads=THREADS)


def test_every_call_is_accounted_for_at_the_server_none_lost_or_doubled(figures: LoadFigures) -> None:
    assert figures.problems == []
    assert figures.stuck_threads == 0
    assert sum(figures.outcomes.values()) == CALLS
    assert figures.outcomes["lost"] == 0
    assert set(figures.outcomes) <= {"ok", "RateLimitedError", "ServiceUnavailableError"}
    assert sum(figures.attempts_by_call.values()) == CALLS
    assert max(figures.attempts_by_call) <= MAX_ATTEMPTS
    requests = sum(attempts * calls for attempts, calls in figures.attempts_by_call.items())
    assert requests == figures.requests_at_server


def test_the_scripted_faults_were_injected_and_retried(figures: LoadFigures) -> None:
    faults = figures.replies[429] + figures.replies[503]
    # ~7% of ~5,400 requests; the seed fixes the exact count, the bounds keep the test honest.
    assert 250 <= faults <= 500
    assert figures.replies[200] == figures.outcomes["ok"]
    # Every fault but the last of a failed call was followed by one (injected) wait and a retry.
    failed = CALLS - figures.outcomes["ok"]
    retried_faults = (
        figures.retries_by_error["RateLimitedError"] + figures.retries_by_error["ServiceUnavailableError"]
    )
    assert retried_faults == faults - failed == figures.requests_at_server - CALLS
    assert figures.waits == sum(figures.retries_by_error.values())


def test_the_token_is_fetched_once_per_lifetime_across_all_threads(figures: LoadFigures) -> None:
    # The wall clock moves 1 s per call: 5,000 s with tokens good for 3,600 s, refreshed 300 s early.
    assert figures.expected_token_fetches == 2
    assert figures.token_fetches == 2
    assert figures.tokens_seen == 2
    assert figures.rejected_tokens == 0
    assert figures.least_token_remaining > 0


def test_no_connection_is_left_open_after_close(figures: LoadFigures) -> None:
    assert figures.sockets_before == 0
    assert 1 <= figures.sockets_peak <= THREADS
    assert figures.sockets_after_close == 0
