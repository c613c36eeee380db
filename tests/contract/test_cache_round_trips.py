"""What a call costs a shared (Redis) reply cache, in round trips: a hit one, a miss at most three
(the lookup; the claim and the read after it; the store and the claim given back), for chat,
stream and embeddings alike, and every claim given back.

Real parts: the openai SDK over HTTP to the loopback server, a redis-server started here, behind
the tests' proxy that counts the round trips the client makes through it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis as redis_py
from loopback import LoopbackServer, Reply
from otel_helpers import settings_for
from redis_proxy import RedisProxy
from redis_server import RedisServer
from wire_samples import openai_error

from llmport import Client, RateLimitedError, build_client, fold_stream

#: A miss: the lookup (MGET), the claim with the read after it, the store with the release.
MISS_ROUND_TRIPS = 3


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with RedisServer() as running:
        yield running


@pytest.fixture
def proxy(redis: RedisServer) -> Iterator[RedisProxy]:
    with RedisProxy(redis.port) as counting:
        yield counting


@pytest.fixture
def client(server: LoopbackServer, proxy: RedisProxy) -> Iterator[Client]:
    settings = settings_for("openai", server, max_retries=0, deadline=10.0, cache=proxy.url)
    with build_client(settings) as built:
        built.chat("Warm up: open the connection")  # connecting is not what is counted
        yield built


def counted(proxy: RedisProxy, server: LoopbackServer, call: Callable[[], Any]) -> tuple[int, int, Any]:
    """The round trips ``call`` made to Redis, the requests it sent to the provider, its result."""
    trips, sent = proxy.round_trips, server.count
    result = call()
    return proxy.round_trips - trips, server.count - sent, result


def claims_left(redis: RedisServer) -> list[Any]:
    with redis_py.Redis.from_url(redis.url) as direct:
        return list(direct.keys("llmport:cache:c:*"))


def test_a_chat_miss_makes_three_round_trips_and_a_hit_one(
    client: Client, proxy: RedisProxy, server: LoopbackServer, redis: RedisServer
) -> None:
    trips, sent, reply = counted(proxy, server, lambda: client.chat("What is 2+2?"))
    assert (sent, reply.cache_hit) == (1, False)
    assert trips <= MISS_ROUND_TRIPS, f"a chat miss made {trips} round trips to Redis"
    trips, sent, reply = counted(proxy, server, lambda: client.chat("What is 2+2?"))
    assert (trips, sent, reply.cache_hit) == (1, 0, True)
    assert claims_left(redis) == []  # the miss gave its claim back with the reply it stored


def test_a_stream_miss_makes_three_round_trips_and_a_hit_one(
    client: Client, proxy: RedisProxy, server: LoopbackServer, redis: RedisServer
) -> None:
    trips, sent, reply = counted(proxy, server, lambda: fold_stream(client.stream("Count to three")))
    assert (sent, reply.cache_hit) == (1, False)
    assert trips <= MISS_ROUND_TRIPS, f"a stream miss made {trips} round trips to Redis"
    trips, sent, reply = counted(proxy, server, lambda: fold_stream(client.stream("Count to three")))
    assert (trips, sent, reply.cache_hit) == (1, 0, True)
    assert claims_left(redis) == []


def test_an_embedding_miss_makes_three_round_trips_and_a_hit_one(
    client: Client, proxy: RedisProxy, server: LoopbackServer, redis: RedisServer
) -> None:
    trips, sent, reply = counted(proxy, server, lambda: client.embed(["red", "green", "blue"]))
    assert (sent, reply.cache_hits) == (1, 0)
    assert trips <= MISS_ROUND_TRIPS, f"an embedding miss made {trips} round trips to Redis"
    trips, sent, reply = counted(proxy, server, lambda: client.embed(["red", "green", "blue"]))
    assert (trips, sent, reply.cache_hits) == (1, 0, 3)
    assert claims_left(redis) == []


def test_a_failed_miss_gives_its_claim_back_and_stores_nothing(
    client: Client, proxy: RedisProxy, server: LoopbackServer, redis: RedisServer
) -> None:
    server.script(Reply(429, openai_error("Rate limit reached", code="rate_limit_exceeded")))
    with pytest.raises(RateLimitedError):
        client.chat("This one fails")
    assert claims_left(redis) == []  # given back at once: a waiter would send without waiting
    trips, sent, reply = counted(proxy, server, lambda: client.chat("This one fails"))
    assert (sent, reply.cache_hit) == (1, False) and trips <= MISS_ROUND_TRIPS
