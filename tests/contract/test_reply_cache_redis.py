"""A client with ``cache="redis://..."`` while its Redis fails mid-run (issue 21): stopped, slowed,
flushed, or holding a value that is not ours. Every call still succeeds, goes to the provider
within its deadline, and the trouble is logged once.

Real parts: the openai SDK over HTTP to the loopback server, a redis-server started here (behind a
proxy that delays its replies, for the slow one), the client built from settings as a user's is.
The store's own behaviour under each fault is in test_cache_store.py; this is the call's side.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from loopback import LoopbackServer
from otel_helpers import settings_for
from redis_proxy import RedisProxy
from redis_server import RedisServer

from llmport import Client, build_client, fold_stream

#: The calls' deadline: the cache may spend half of it, the provider the rest.
DEADLINE = 3.0
#: What a loaded 2-core machine may add on top of a bound.
SLACK = 0.5


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with RedisServer() as running:
        yield running


def cache_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    records = [
        r for r in caplog.records if r.name.startswith("llmport.cache") and r.levelno >= logging.WARNING
    ]
    return [r.getMessage() for r in records]


def client_on(server: LoopbackServer, cache_url: str) -> Client:
    settings = settings_for("openai", server, max_retries=0, deadline=DEADLINE, cache=cache_url)
    return build_client(settings)


def round_of_calls(client: Client, server: LoopbackServer) -> tuple[int, int, float]:
    """A chat, a stream and an embedding of the same things each round: (requests sent, hits,
    the longest call's seconds)."""
    before, hits, longest = server.count, 0, 0.0
    for call in (
        lambda: int(client.chat("What is 2+2?").cache_hit),
        lambda: int(fold_stream(client.stream("Count to three")).cache_hit),
        lambda: client.embed(["red", "green"]).cache_hits // 2,
    ):
        started = time.monotonic()
        hits += call()
        longest = max(longest, time.monotonic() - started)
    return server.count - before, hits, longest


def warm(client: Client, server: LoopbackServer) -> None:
    assert round_of_calls(client, server)[:2] == (3, 0)
    assert round_of_calls(client, server)[:2] == (0, 3)  # Redis works: every call a hit


def test_redis_stopped_mid_run(
    server: LoopbackServer, redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    with client_on(server, redis.url) as client:
        warm(client, server)
        redis.stop()
        for _ in range(3):
            sent, hits, longest = round_of_calls(client, server)
            assert (sent, hits) == (3, 0)
            assert longest < DEADLINE
    said = cache_warnings(caplog)
    assert len(said) == 1 and "unreachable" in said[0], said


def test_redis_slowed_mid_run(
    server: LoopbackServer, redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    with RedisProxy(redis.port) as proxy, client_on(server, proxy.url) as client:
        warm(client, server)
        proxy.delay = 5.0  # longer than the whole call may take
        for _ in range(3):
            sent, hits, longest = round_of_calls(client, server)
            assert (sent, hits) == (3, 0)
            # The store gives up after its 0.5 s timeout at most (half the deadline would be 1.5 s).
            assert longest < 0.5 + SLACK + 0.5
    said = cache_warnings(caplog)
    assert len(said) == 1 and "did not answer within" in said[0], said


def test_redis_flushed_mid_run(
    server: LoopbackServer, redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    import redis as redis_py

    with client_on(server, redis.url) as client:
        warm(client, server)
        with redis_py.Redis(port=redis.port) as raw:
            raw.flushall()
        assert round_of_calls(client, server)[:2] == (3, 0)  # a miss: sent, and stored again
        assert round_of_calls(client, server)[:2] == (0, 3)
    assert cache_warnings(caplog) == []  # an empty cache is no failure


def test_redis_answering_garbage_mid_run(
    server: LoopbackServer, redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    import redis as redis_py

    with client_on(server, redis.url) as client:
        warm(client, server)
        with redis_py.Redis(port=redis.port) as raw:
            keys = raw.keys("llmport:cache:v:*")
        assert len(keys) == 4  # the chat reply, the stream, and the two vectors
        for _ in range(2):
            with redis_py.Redis(port=redis.port) as raw:
                for key in keys:
                    raw.set(key, b"\x80 not a frame of ours")
            sent, hits, longest = round_of_calls(client, server)
            assert (sent, hits) == (3, 0) and longest < DEADLINE
        assert round_of_calls(client, server)[:2] == (0, 3)  # written again after the calls
    said = cache_warnings(caplog)
    assert len(said) == 1 and "not written by this store" in said[0], said
    assert "not a frame" not in caplog.text
