"""Tokens under threads: one fetch for all, replaced at the margin, a failure retried on the next call."""

from __future__ import annotations

import threading

import pytest
from harness import PROVIDERS, TokenLedger, WallClock, wire
from loopback import LoopbackServer

from llmport import AuthenticationError
from llmport.adapters.fakes import FakeCredential

THREADS = 16
LIFETIME = 3_600.0
MARGIN = 300.0


def _burst(call: object, threads: int = THREADS) -> list[BaseException]:
    """Call ``call()`` on ``threads`` threads released together; return what they raised."""
    barrier = threading.Barrier(threads, timeout=10)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            barrier.wait()
            call()  # type: ignore[operator]
        except BaseException as exc:  # collected and asserted on by the test
            with lock:
                errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert not any(worker.is_alive() for worker in workers), "a thread is stuck"
    return errors


@pytest.mark.parametrize("provider", PROVIDERS)
def test_threads_share_one_fetch_and_the_token_is_replaced_when_the_margin_is_reached(provider: str) -> None:
    wall = WallClock()
    ledger = TokenLedger(FakeCredential(lifetime=LIFETIME, clock=wall), wall)
    with LoopbackServer(accept_token=ledger.accept) as server:
        wiring = wire(
            server, provider, auth="entra", credential=ledger, wall=wall, token_refresh_margin=MARGIN
        )
        with wiring.client as client:
            assert _burst(lambda: client.chat("first burst")) == []
            assert ledger.calls == 1

            wall.advance(LIFETIME - MARGIN - 1)  # 301 s left: still handed out
            assert _burst(lambda: client.chat("before the margin")) == []
            assert ledger.calls == 1

            wall.advance(1)  # 300 s left: the margin is reached, so it is replaced before use
            assert _burst(lambda: client.embed(["at the margin"])) == []
            assert ledger.calls == 2

        bearers = [request.headers["authorization"] for request in server.requests]
    assert len(bearers) == 3 * THREADS
    assert set(bearers[: 2 * THREADS]) == {"Bearer fake-token-1"}
    assert set(bearers[2 * THREADS :]) == {"Bearer fake-token-2"}
    assert ledger.rejected == 0
    assert ledger.least_remaining == MARGIN + 1  # never sent with less than the margin left


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_failing_credential_gives_authentication_error_without_a_request_and_the_next_call_retries(
    server: LoopbackServer, provider: str
) -> None:
    credential = FakeCredential(RuntimeError("managed identity endpoint unreachable"))
    server.accept_token = lambda token: token.startswith("fake-token-")
    wiring = wire(server, provider, auth="entra", credential=credential)
    with wiring.client as client:
        with pytest.raises(AuthenticationError) as raised:
            client.chat("hello")
        assert credential.calls == 1  # no second fetch at once: there was no stale token to drop
        assert server.count == 0
        assert raised.value.status_code is None
        assert "RuntimeError" in str(raised.value)

        assert client.chat("hello again").text == "pong"
    assert credential.calls == 2
    assert server.count == 1


def test_threads_hitting_a_failing_credential_each_get_authentication_error_and_nothing_is_cached(
    server: LoopbackServer,
) -> None:
    credential = FakeCredential(*[RuntimeError("down")] * THREADS)
    server.accept_token = lambda token: token.startswith("fake-token-")
    wiring = wire(server, "azure", auth="entra", credential=credential)
    with wiring.client as client:
        errors = _burst(lambda: client.chat("hello"))
        assert len(errors) == THREADS
        assert all(isinstance(error, AuthenticationError) for error in errors)
        assert credential.calls == THREADS  # each waiting thread asks again: a failure is not cached
        assert server.count == 0

        client.chat("recovered")
    assert credential.calls == THREADS + 1
    assert server.count == 1
