"""A user's own httpx client (proxy, custom CA, mTLS) and per-call limits keep llmport's promises.

Real time, real sockets: raw servers on 127.0.0.1 drip a byte at a time, stall, or send a reply
far past the byte cap. Through a user-supplied ``httpx2.Client`` the call's deadline still ends
the call and ``max_response_bytes`` still holds, because llmport wraps that client's connection
pools' network backend as it does its own. A per-call ``deadline`` and ``timeout`` bound that call
only. After ``os.fork()`` a client object made in the parent is refused in the child (its pooled
sockets are the parent's); a callable that makes the client works in both.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from deadline_run import SLACK
from harness import PROVIDERS, raw_settings, settings_for
from loopback import LoopbackServer
from raw_server import RawServer, drip, huge, stall

import llmport
from llmport import ConfigurationError, RequestTimeoutError, ResponseTooLargeError, build_client

OPERATIONS: dict[str, Callable[[llmport.Client], object]] = {
    "chat": lambda client: client.chat("hi"),
    "stream": lambda client: list(client.stream("hi")),
    "embed": lambda client: client.embed(["a", "b"]),
}


def timed(call: Callable[[], object]) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        call()
    except BaseException as error:
        return time.monotonic() - started, error
    return time.monotonic() - started, None


# -- a user's client keeps the deadline and the byte cap ----------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_the_deadline_ends_a_call_through_a_users_client(provider: str, operation: str) -> None:
    # The drip never trips httpx's per-operation timeout (a byte every 0.2 s, timeout 1 s): only
    # the deadline (2 s) can end the call, and only if the user's client is under the limits.
    with (
        RawServer(drip(interval=0.2)) as server,
        httpx2.Client(headers={"x-from": "user-client"}) as mine,
        build_client(raw_settings(server.url, provider), http_client=mine) as client,
    ):
        elapsed, error = timed(lambda: OPERATIONS[operation](client))
    assert isinstance(error, llmport.LLMPortError), error
    assert "deadline" in str(error)
    assert elapsed <= 2.0 + SLACK, elapsed


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("status", "operation"), [(200, "chat"), (200, "stream"), (503, "embed")])
def test_the_byte_cap_holds_through_a_users_client(provider: str, status: int, operation: str) -> None:
    cap = 2 * 1024 * 1024
    with RawServer(huge(status=status, size=20 * cap)) as server, httpx2.Client() as mine:
        settings = raw_settings(server.url, provider, max_response_bytes=cap, deadline=30.0, timeout=10.0)
        with build_client(settings, http_client=mine) as client, pytest.raises(ResponseTooLargeError):
            OPERATIONS[operation](client)
        assert server.requests == 1


def test_a_users_client_through_a_proxy_is_under_the_limits_too() -> None:
    # httpx sends through a proxy with a transport of its own (a mount): it gets the limited backend.
    # The "proxy" here is the dripping server itself, which answers the proxied request slowly.
    with RawServer(drip(interval=0.2)) as proxy, httpx2.Client(proxy=proxy.url) as mine:
        settings = raw_settings("http://llm.example.invalid", "openai", allow_insecure_http=True)
        with build_client(settings, http_client=mine) as client:
            elapsed, error = timed(lambda: client.chat("hi"))
    assert proxy.requests >= 1  # the request went to the proxy, not to the unresolvable host
    assert isinstance(error, llmport.LLMPortError) and "deadline" in str(error), error
    assert elapsed <= 2.0 + SLACK


def test_a_users_client_is_used_and_left_open_for_its_owner(server: LoopbackServer) -> None:
    mine = httpx2.Client(headers={"x-from": "user-client"})
    with build_client(settings_for(server, "azure_v1"), http_client=mine) as client:
        client.chat("hi")
        client.embed(["a"])
    assert [request.headers.get("x-from") for request in server.requests] == ["user-client"] * 2
    assert not mine.is_closed  # the user's to close
    # Outside llmport's calls the wrapped backend changes nothing: the app can still use it.
    assert (
        mine.post(f"{server.url}/openai/v1/embeddings", json={"input": ["a"], "model": "m"}).status_code
        == 401
    )
    mine.close()


def test_a_client_factory_is_called_once_per_process_and_its_clients_are_closed(
    server: LoopbackServer,
) -> None:
    made: list[httpx2.Client] = []

    def factory() -> httpx2.Client:
        made.append(httpx2.Client(headers={"x-from": "factory"}))
        return made[-1]

    with build_client(settings_for(server, "openai"), http_client=factory) as client:
        client.chat("hi")
        client.chat("hi")
    assert len(made) == 1 and made[0].is_closed
    assert server.last.headers.get("x-from") == "factory"


@pytest.mark.parametrize(
    "given",
    [
        lambda: httpx2.Client(transport=httpx2.MockTransport(lambda request: httpx2.Response(200))),
        lambda: "http://proxy:3128",
        lambda: object,  # a callable, but what it makes is no client
    ],
    ids=["mock-transport", "not-a-client", "factory-of-nothing"],
)
def test_a_client_llmport_cannot_bound_is_refused_when_the_client_is_built(
    server: LoopbackServer, given: Callable[[], Any]
) -> None:
    with pytest.raises(ConfigurationError, match="http_client"):
        build_client(settings_for(server, "openai"), http_client=given())
    assert server.count == 0


def test_the_fake_provider_ignores_an_http_client() -> None:
    with build_client(llmport.Settings(provider="fake"), http_client=httpx2.Client()) as client:
        assert client.chat("hi").text


# -- after a fork ------------------------------------------------------------------------------


def _in_child(call: Callable[[], str]) -> str:
    """Run ``call`` in a forked child and return what it returned (or the error it raised)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read)
            try:
                outcome = {"ok": call()}
            except BaseException as error:
                outcome = {"error": type(error).__name__, "message": str(error)}
            os.write(write, json.dumps(outcome).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    return text


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_after_a_fork_a_client_object_is_refused_and_a_factory_serves_the_child(
    server: LoopbackServer,
) -> None:
    mine = httpx2.Client()
    with (
        build_client(settings_for(server, "openai"), http_client=mine) as with_object,
        build_client(settings_for(server, "openai"), http_client=httpx2.Client) as with_factory,
    ):
        with_object.chat("hi")  # a pooled connection exists in the parent
        with_factory.chat("hi")
        refused = json.loads(_in_child(lambda: with_object.chat("hi").text))
        served = json.loads(_in_child(lambda: with_factory.chat("hi").text))
        assert with_object.chat("hi").text  # the parent goes on with its own client
    mine.close()

    assert refused["error"] == "ConfigurationError"
    assert "os.fork()" in refused["message"] and "callable" in refused["message"]
    assert "ok" in served, served


# -- per-call limits on real sockets -----------------------------------------------------------


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_a_per_call_deadline_ends_that_call_only_by_it(operation: str) -> None:
    with RawServer(drip(interval=0.2)) as server:
        settings = raw_settings(server.url, "azure", deadline=30.0, timeout=5.0)
        with build_client(settings) as client:
            view = client.with_options(deadline=1.0)
            by_view, view_error = timed(lambda: OPERATIONS[operation](view))
            by_call, call_error = timed(
                {
                    "chat": lambda: client.chat("hi", deadline=1.0),
                    "stream": lambda: list(client.stream("hi", deadline=1.0)),
                    "embed": lambda: client.embed(["a"], deadline=1.0),
                }[operation]
            )
    for elapsed, error in ((by_view, view_error), (by_call, call_error)):
        assert isinstance(error, llmport.LLMPortError) and "deadline" in str(error), error
        assert 0.9 <= elapsed <= 1.0 + SLACK, elapsed


def test_a_per_call_timeout_bounds_each_socket_wait_of_that_call() -> None:
    # A server that never answers: the client's timeout (10 s) would wait; the call's (0.5 s) does not.
    with (
        RawServer(stall()) as server,
        build_client(raw_settings(server.url, "openai", timeout=10.0, deadline=20.0)) as client,
    ):
        elapsed, error = timed(lambda: client.chat("hi", timeout=0.5, max_retries=0))
        view_elapsed, view_error = timed(lambda: client.with_options(timeout=0.5, max_retries=1).embed(["a"]))
    assert isinstance(error, RequestTimeoutError), error
    assert 0.4 <= elapsed <= 0.5 + SLACK, elapsed
    assert isinstance(view_error, RequestTimeoutError), view_error
    assert view_elapsed <= 2 * 0.5 + 1.0 + SLACK, view_elapsed  # two attempts and a backoff
