"""Both reply cache stores keep the CacheStore port's contract; the Redis one through every fault.

Real parts: a redis-server on 127.0.0.1 started here (stopped, slowed or stalled by a proxy in
front of it, flushed, filled, password-protected), real threads and real processes for the single
flight. The memory store's time is an injected clock; Redis's TTLs are short real ones.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from clock import FakeClock
from redis_proxy import RedisProxy
from redis_server import BINARY, SKIP_REASON, RedisServer

from llmport.adapters.cache.memory import MemoryCacheStore
from llmport.domain.deadline import Deadline, deadline_scope
from llmport.domain.ports import CacheStore, ForkAware

needs_redis = pytest.mark.skipif(BINARY is None, reason=SKIP_REASON)
#: What a store may answer past its deadline or timeout: the target is 0.1 s; a loaded 2-core
#: machine gets a little more.
SLACK = 0.2


@dataclass
class Case:
    """One store under test, and how to let its entries' and claims' time pass."""

    store: Any
    wait: Callable[[float], None]


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    if BINARY is None:
        pytest.skip(SKIP_REASON)
    with RedisServer() as server:
        yield server


def redis_store(url: str, **options: Any) -> Any:
    from llmport.adapters.cache.redis_cache import RedisCacheStore

    return RedisCacheStore(url, **options)


@pytest.fixture(params=["memory", pytest.param("redis", marks=needs_redis)])
def make(request: pytest.FixtureRequest) -> Iterator[Callable[..., Case]]:
    """Build the parameter's store with options; Redis starts empty, every store is closed after."""
    built: list[Any] = []

    def build(**options: Any) -> Case:
        if request.param == "memory":
            clock = FakeClock()
            store: Any = MemoryCacheStore(clock=clock, **options)
            case = Case(store, clock.advance)
        else:
            server: RedisServer = request.getfixturevalue("redis_server")
            _flush(server)
            store = redis_store(server.url, **options)
            case = Case(store, lambda seconds: time.sleep(seconds + 0.05))
        built.append(store)
        return case

    yield build
    for store in built:
        store.close()


def _flush(server: RedisServer) -> None:
    import redis as redis_py

    with redis_py.Redis(port=server.port) as raw:
        raw.flushall()


def in_thread(work: Callable[[], Any]) -> Any:
    """``work()``'s answer, run on another thread (another caller of the same store)."""
    answer: list[Any] = []
    thread = threading.Thread(target=lambda: answer.append(work()))
    thread.start()
    thread.join(10)
    return answer[0]


def cache_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    said = [r for r in caplog.records if r.name == "llmport.cache" and r.levelno >= logging.WARNING]
    return [r.getMessage() for r in said]


# -- the contract, both stores -------------------------------------------------------------------


def test_a_store_is_a_cache_store_and_fork_aware(make: Callable[..., Case]) -> None:
    store = make().store
    assert isinstance(store, CacheStore) and isinstance(store, ForkAware)


def test_values_come_back_in_order_and_an_unknown_key_is_a_miss(make: Callable[..., Case]) -> None:
    store = make().store
    store.set_many({"a": b"one", "b": b"\x00\xff two"}, 60)
    assert store.get_many(["a", "nope", "b"]) == [b"one", None, b"\x00\xff two"]
    assert store.get_many([]) == []
    store.set_many({"a": b"uno"}, 60)
    assert store.get_many(["a"]) == [b"uno"]


def test_an_entry_expires_after_its_ttl(make: Callable[..., Case]) -> None:
    case = make()
    case.store.set_many({"short": b"s"}, 0.2)
    case.store.set_many({"long": b"l"}, 60)
    assert case.store.get_many(["short", "long"]) == [b"s", b"l"]
    case.wait(0.2)
    assert case.store.get_many(["short", "long"]) == [None, b"l"]


def test_a_ttl_of_zero_stores_nothing(make: Callable[..., Case]) -> None:
    store = make().store
    store.set_many({"a": b"1"}, 0)
    assert store.get_many(["a"]) == [None]


def test_a_value_over_the_entry_cap_is_not_stored_and_the_others_are(make: Callable[..., Case]) -> None:
    store = make(max_entry_bytes=10).store
    store.set_many({"fits": b"x" * 10, "over": b"x" * 11}, 60)
    assert store.get_many(["fits", "over"]) == [b"x" * 10, None]


def test_a_claimed_key_answers_false_to_others_until_released(make: Callable[..., Case]) -> None:
    store = make().store
    assert store.claim("k", 30)
    assert not in_thread(lambda: store.claim("k", 30))
    assert not store.claim("k", 30)  # the holder too: it is computing already
    assert in_thread(lambda: store.claim("other", 30))  # a claim is per key
    in_thread(lambda: store.release("k"))  # not that thread's claim: it stays
    assert not in_thread(lambda: store.claim("k", 30))
    store.release("k")
    assert in_thread(lambda: store.claim("k", 30))


def test_a_claim_ends_after_its_seconds(make: Callable[..., Case]) -> None:
    case = make()
    assert case.store.claim("k", 0.2)
    assert not in_thread(lambda: case.store.claim("k", 30))
    case.wait(0.2)
    assert in_thread(lambda: case.store.claim("k", 30))


def test_a_late_release_never_gives_back_the_claim_of_whoever_took_it_next(make: Callable[..., Case]) -> None:
    case = make()
    assert case.store.claim("k", 0.2)
    case.wait(0.2)  # the first holder ran past its claim ...
    second = threading.Event()
    done = threading.Event()

    def take_and_hold() -> None:
        assert case.store.claim("k", 30)
        second.set()
        done.wait(10)

    holder = threading.Thread(target=take_and_hold)
    holder.start()
    assert second.wait(10)
    case.store.release("k")  # ... and gives it back late: the second holder keeps it
    assert not in_thread(lambda: case.store.claim("k", 30))
    done.set()
    holder.join(10)


def test_claim_and_get_claims_then_reads_in_one_call(make: Callable[..., Case]) -> None:
    store = make().store
    store.set_many({"a": b"one"}, 60)
    assert store.claim_and_get("k", ["a", "nope"], 30) == (True, [b"one", None])
    # Another caller: no claim, and the values all the same (a waiter's look is one round trip).
    assert in_thread(lambda: store.claim_and_get("k", ["a"], 30)) == (False, [b"one"])
    assert in_thread(lambda: store.claim_and_get("other", [], 30)) == (True, [])
    store.release("k")
    assert in_thread(lambda: store.claim_and_get("k", ["a"], 30))[0]


def test_set_many_gives_back_the_claim_it_names_with_the_values(make: Callable[..., Case]) -> None:
    store = make(max_entry_bytes=10).store
    assert store.claim_and_get("k", ["v"], 30) == (True, [None])
    store.set_many({"v": b"reply"}, 60, release="k")
    assert in_thread(lambda: store.claim_and_get("k", ["v"], 30)) == (True, [b"reply"])
    assert store.claim("mine", 30)
    store.set_many({"big": b"x" * 11}, 60, release="mine")  # nothing stored: given back all the same
    assert in_thread(lambda: store.claim("mine", 30))
    assert store.claim("zero", 30)
    store.set_many({"z": b"1"}, 0, release="zero")
    assert in_thread(lambda: store.claim("zero", 30)) and store.get_many(["z", "big"]) == [None, None]


def test_set_many_never_gives_back_another_callers_claim(make: Callable[..., Case]) -> None:
    store = make().store
    assert in_thread(lambda: store.claim("k", 30))
    store.set_many({"v": b"1"}, 60, release="k")  # not this thread's claim: it stays
    assert not store.claim("k", 30) and store.get_many(["v"]) == [b"1"]


# -- memory: bounded in bytes, threads --------------------------------------------------------------


def test_memory_is_bounded_in_bytes_and_the_least_recently_used_go_first() -> None:
    store = MemoryCacheStore(max_bytes=100, max_entry_bytes=100, clock=FakeClock())
    store.set_many({"a": b"a" * 30, "b": b"b" * 30, "c": b"c" * 30}, 60)
    assert store.bytes_held == 90
    assert store.get_many(["a"]) == [b"a" * 30]  # a is used: b is now the least recent
    store.set_many({"d": b"d" * 30}, 60)
    assert store.bytes_held <= 100
    assert store.get_many(["a", "b", "c", "d"]) == [b"a" * 30, None, b"c" * 30, b"d" * 30]


def test_memory_entry_cap_never_exceeds_the_whole_bound() -> None:
    store = MemoryCacheStore(max_bytes=50, max_entry_bytes=1000, clock=FakeClock())
    store.set_many({"big": b"x" * 51, "ok": b"x" * 50}, 60)
    assert store.get_many(["big", "ok"]) == [None, b"x" * 50]


def test_memory_one_of_many_threads_racing_for_a_key_gets_it() -> None:
    store = MemoryCacheStore(clock=FakeClock())
    start = threading.Barrier(8)
    answers: list[bool] = []

    def race() -> None:
        start.wait(10)
        answers.append(store.claim("k", 30))

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(answers) == [False] * 7 + [True]


def test_memory_after_fork_keeps_entries_and_drops_claims() -> None:
    store = MemoryCacheStore(clock=FakeClock())
    store.set_many({"a": b"1"}, 60)
    assert store.claim("k", 30)
    store.after_fork()
    assert store.get_many(["a"]) == [b"1"]
    assert store.claim("k", 30)


def test_memory_sizes_must_be_whole_bytes() -> None:
    from llmport.domain.errors import ConfigurationError

    for bad in (0, -1, 1.5, True):
        with pytest.raises(ConfigurationError, match="max_bytes"):
            MemoryCacheStore(max_bytes=bad)  # type: ignore[arg-type]


# -- Redis: shared across processes, namespaced, and every fault a miss -----------------------------

CLAIMER = """
import sys
from llmport.adapters.cache.redis_cache import RedisCacheStore
store = RedisCacheStore(sys.argv[1])
print(store.claim(sys.argv[2], 30))
store.close()
"""


def claims_in_processes(url: str, key: str, count: int) -> list[bool]:
    """Whether each of ``count`` processes, started at once, got the claim on ``key``."""
    runs = [
        subprocess.Popen([sys.executable, "-c", CLAIMER, url, key], stdout=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    outs = [run.communicate(timeout=60)[0].strip() for run in runs]
    assert all(run.returncode == 0 for run in runs), outs
    return [out == "True" for out in outs]


@needs_redis
def test_redis_one_of_many_processes_gets_a_claim_and_a_release_lets_the_next_in(
    redis_server: RedisServer,
) -> None:
    _flush(redis_server)
    assert sorted(claims_in_processes(redis_server.url, "k", 4)) == [False, False, False, True]
    store = redis_store(redis_server.url)
    assert not store.claim("k", 30)  # a process holds it (until its 30 s end)
    assert store.claim("mine", 30)
    assert claims_in_processes(redis_server.url, "mine", 1) == [False]
    store.release("mine")
    assert claims_in_processes(redis_server.url, "mine", 1) == [True]
    store.close()


@needs_redis
def test_redis_keys_live_under_the_prefix_and_two_prefixes_never_meet(redis_server: RedisServer) -> None:
    import redis as redis_py

    _flush(redis_server)
    one = redis_store(redis_server.url, prefix="tenant-one")
    two = redis_store(redis_server.url, prefix="tenant-two")
    one.set_many({"k": b"one's"}, 60)
    assert one.claim("c", 30)
    assert two.get_many(["k"]) == [None] and two.claim("c", 30)
    with redis_py.Redis(port=redis_server.port) as raw:
        keys = sorted(key.decode() for key in raw.keys("*"))
    assert keys == ["tenant-one:c:c", "tenant-one:v:k", "tenant-two:c:c"]
    one.close()
    two.close()


@needs_redis
def test_redis_after_fork_drops_the_parents_claims_and_connections(redis_server: RedisServer) -> None:
    _flush(redis_server)
    store = redis_store(redis_server.url)
    assert store.claim("k", 30)
    store.after_fork()
    store.release("k")  # the parent's claim: the child has no token for it, and it stays
    assert not store.claim("k", 30)
    store.set_many({"a": b"1"}, 60)
    assert store.get_many(["a"]) == [b"1"]
    store.close()


@needs_redis
def test_redis_stopped_mid_run_is_a_miss_logged_once_and_its_return_is_said(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="llmport.cache")
    clock = FakeClock()
    with RedisServer() as server:
        store = redis_store(server.url, timeout=0.5, clock=clock)
        store.set_many({"a": b"secret reply"}, 60)
        server.stop()
        for _ in range(3):
            start = time.monotonic()
            assert store.get_many(["a"]) == [None]
            store.set_many({"a": b"secret reply"}, 60)
            assert store.claim("a", 30)
            store.release("a")
            assert time.monotonic() - start < 0.5 + SLACK
            clock.advance(11)  # past retry_every: each round tries Redis again
        assert len(cache_warnings(caplog)) == 1 and "unreachable" in cache_warnings(caplog)[0]
        server.start()
        store.set_many({"a": b"again"}, 60)
        assert store.get_many(["a"]) == [b"again"]
        assert "reachable again" in caplog.text
        store.close()
    assert "secret reply" not in caplog.text and ":v:a" not in caplog.text


@needs_redis
def test_redis_slower_than_its_timeout_is_a_miss_within_it_logged_once(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    with RedisProxy(redis_server.port, delay=1.0) as proxy:
        store = redis_store(proxy.url, timeout=0.2, clock=clock)
        for _ in range(3):
            start = time.monotonic()
            assert store.get_many(["a", "b"]) == [None, None]
            store.set_many({"a": b"1"}, 60)
            assert store.claim("a", 30)
            assert time.monotonic() - start < 0.2 + SLACK
            clock.advance(11)
        store.close()
    warnings = cache_warnings(caplog)
    assert len(warnings) == 1 and "did not answer within" in warnings[0], warnings


@needs_redis
def test_redis_stalled_answers_within_the_calls_deadline(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    with RedisProxy(redis_server.port, stalled=True) as proxy:
        store = redis_store(proxy.url, timeout=5.0)
        start = time.monotonic()
        with deadline_scope(Deadline(start + 0.3, time.monotonic)):
            assert store.get_many(["a"]) == [None]
            assert store.claim("a", 30)
            store.set_many({"a": b"1"}, 60)
            store.release("a")
        assert time.monotonic() - start < 0.3 + SLACK
        store.close()
    assert len(cache_warnings(caplog)) == 1


@needs_redis
def test_redis_a_deadline_already_past_goes_without_redis(redis_server: RedisServer) -> None:
    _flush(redis_server)
    store = redis_store(redis_server.url)
    store.set_many({"a": b"1"}, 60)
    with deadline_scope(Deadline(time.monotonic() - 1, time.monotonic)):
        assert store.get_many(["a"]) == [None]
        assert store.claim("a", 30)
    assert store.get_many(["a"]) == [b"1"]
    assert store.claim("a", 30)  # the claim above never reached Redis
    store.close()


@needs_redis
def test_redis_flushed_mid_run_is_a_miss_and_nothing_to_log(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    _flush(redis_server)
    store = redis_store(redis_server.url)
    store.set_many({"a": b"1"}, 60)
    assert store.claim("k", 30)
    _flush(redis_server)
    assert store.get_many(["a"]) == [None]
    assert in_thread(lambda: store.claim("k", 30))  # the claim went with the rest
    store.release("k")
    store.set_many({"a": b"2"}, 60)
    assert store.get_many(["a"]) == [b"2"]
    assert cache_warnings(caplog) == []
    store.close()


@needs_redis
def test_redis_a_value_it_did_not_write_is_a_miss_logged_once(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    import redis as redis_py

    _flush(redis_server)
    store = redis_store(redis_server.url, prefix="p")
    store.set_many({"good": b"a reply"}, 60)
    with redis_py.Redis(port=redis_server.port) as raw:
        raw.set("p:v:junk", b"\x80not ours")
        whole = raw.get("p:v:good")
        assert whole is not None
        raw.set("p:v:cut", whole[:-2])  # one of ours, cut short
        raw.rpush("p:v:list", b"x")  # not even a string
    for _ in range(3):
        assert store.get_many(["junk", "good", "cut", "list"]) == [None, b"a reply", None, None]
    warnings = cache_warnings(caplog)
    assert len(warnings) == 1 and "not written by this store" in warnings[0], warnings
    assert "not ours" not in caplog.text and "junk" not in caplog.text
    store.close()


@needs_redis
def test_redis_out_of_memory_stores_nothing_serves_what_it_has_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import redis as redis_py

    clock = FakeClock()
    with RedisServer(options=("--maxmemory", "1mb", "--maxmemory-policy", "noeviction")) as server:
        store = redis_store(server.url, clock=clock)
        store.set_many({"kept": b"an old reply"}, 60)
        with redis_py.Redis(port=server.port) as filler:
            with pytest.raises(redis_py.exceptions.OutOfMemoryError):
                for index in range(100):
                    filler.set(f"ballast:{index}", b"x" * 100_000)
            # A refused command's buffer is freed after it: a few bytes may fit again. Full is full.
            used = int(filler.info("memory")["used_memory"])
            filler.config_set("maxmemory", str(used // 2))
        for _ in range(3):
            store.set_many({"new": b"1"}, 60)
            assert store.claim("new", 30)  # SET NX refused: everyone computes
            assert store.get_many(["kept", "new"]) == [b"an old reply", None]
            clock.advance(11)
        store.close()
    warnings = cache_warnings(caplog)
    assert len(warnings) == 1 and "out of memory" in warnings[0] and "maxmemory" in warnings[0], warnings


@needs_redis
def test_redis_out_of_memory_still_reads_after_a_claim_and_takes_a_claim_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import redis as redis_py

    clock = FakeClock()
    with RedisServer(options=("--maxmemory", "1mb", "--maxmemory-policy", "noeviction")) as server:
        store = redis_store(server.url, clock=clock)
        store.set_many({"kept": b"an old reply"}, 60)
        # Taken before Redis fills up (a claim, like any write, is refused once it is full).
        assert all(store.claim(f"held{round_}", 30) for round_ in range(3))
        with redis_py.Redis(port=server.port) as filler:
            with pytest.raises(redis_py.exceptions.OutOfMemoryError):
                for index in range(100):
                    filler.set(f"ballast:{index}", b"x" * 100_000)
            filler.config_set("maxmemory", str(int(filler.info("memory")["used_memory"]) // 2))
        # The first round writes and is refused; the next two leave writes alone (the clock stands).
        with redis_py.Redis(port=server.port) as raw:
            for round_ in range(3):
                assert raw.exists(f"llmport:cache:c:held{round_}")
                store.set_many({"new": b"1"}, 60, release=f"held{round_}")  # the claim is given back
                assert not raw.exists(f"llmport:cache:c:held{round_}")
                assert store.claim_and_get("new", ["kept", "new"], 30) == (True, [b"an old reply", None])
        store.close()
    warnings = cache_warnings(caplog)
    assert len(warnings) == 1 and "out of memory" in warnings[0], warnings


@needs_redis
def test_redis_refusing_the_password_is_a_miss_logged_once_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    with RedisServer(options=("--requirepass", "the-right-one")) as server:
        store = redis_store(f"redis://:wrong-one@127.0.0.1:{server.port}/0", clock=clock)
        for _ in range(3):
            assert store.get_many(["a"]) == [None]
            assert store.claim("a", 30)
            clock.advance(11)
        store.close()
    warnings = cache_warnings(caplog)
    assert len(warnings) == 1 and "password" in warnings[0] and "in cache" in warnings[0], warnings
    assert "wrong-one" not in caplog.text and "the-right-one" not in caplog.text
