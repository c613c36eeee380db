"""The reply cache's policy (services/caching.py) over the dict store fake and the fake provider."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from cache_fakes import DictCacheStore, RaisingCacheStore, SlowCacheStore
from clock import FakeClock
from dependency_injector import providers
from structlog.testing import capture_logs

from llmport import Settings, build_client
from llmport.adapters.fakes import FakeChat, FakeEmbeddings, FakeStreamBreak
from llmport.domain.call_options import CallOptions
from llmport.domain.deadline import current_deadline
from llmport.domain.errors import RateLimitedError, StreamInterruptedError
from llmport.domain.folding import fold_stream
from llmport.domain.messages import ImagePart, Message, TextPart
from llmport.domain.models import ChatRequest, EmbeddingRequest
from llmport.services.cache_codec import decode, encode, key_of
from llmport.services.cache_embeddings import CachingEmbeddings
from llmport.services.cache_store import ReplyCache
from llmport.services.caching import CachingChat
from llmport.services.chat import ChatService
from llmport.services.embeddings import EmbeddingService
from llmport.services.retry import Retrier, RetryPolicy
from llmport.testing import Container

SCOPE = {"provider": "fake", "base_url": None, "deployment": None, "api": "chat"}


def _retrier(clock: FakeClock, retries: int = 0, deadline: float | None = 30.0) -> Retrier:
    return Retrier(RetryPolicy(max_retries=retries, deadline=deadline), sleep=clock.sleep, clock=clock)


def _chat(store: object, fake: FakeChat, clock: FakeClock, **cache: object) -> CachingChat:
    service = ChatService(fake, provider="fake", model="m", retrier=_retrier(clock))
    reply_cache = ReplyCache(store=store, ttl=60.0, scope=SCOPE, clock=clock, sleep=clock.sleep, **cache)  # type: ignore[arg-type]
    return CachingChat(service, reply_cache, model="m", provider="fake")


def _request(text: str = "hello there", **fields: object) -> ChatRequest:
    return ChatRequest(messages=(Message.user(text),), **fields)  # type: ignore[arg-type]


def test_a_second_identical_call_is_served_from_the_cache_without_a_request() -> None:
    store, fake, clock = DictCacheStore(), FakeChat(), FakeClock()
    chat = _chat(store, fake, clock)
    first = chat.complete(_request())
    second = chat.complete(_request())
    assert len(fake.requests) == 1
    assert not first.cache_hit and second.cache_hit
    assert second.text == first.text and second.usage == first.usage and second.id == first.id
    assert list(store.ttls.values()) == [60.0]


def test_every_field_that_shapes_the_reply_changes_the_key() -> None:
    store, fake, clock = DictCacheStore(), FakeChat(), FakeClock()
    chat = _chat(store, fake, clock)
    variants = [
        _request(),
        _request(temperature=0.5),
        _request(seed=7),
        _request(n=2),
        _request(instructions="be brief"),
        _request(previous_response_id="resp_1"),
        _request(prompt_cache_key="tenant-a"),
        _request(prompt_cache_key="tenant-b"),
        _request(extra={"top_k": 3}),
        _request(model="other"),
        ChatRequest(messages=(Message.user([TextPart("hello there"), ImagePart(data=b"\x89PNG1")]),)),
        ChatRequest(messages=(Message.user([TextPart("hello there"), ImagePart(data=b"\x89PNG2")]),)),
    ]
    for request in variants:
        chat.complete(request)
    assert len(fake.requests) == len(variants)
    assert len(store.values) == len(variants)


def test_two_calls_differing_only_in_prompt_cache_key_are_two_keys() -> None:
    keys = {
        key_of("chat", SCOPE, _request(prompt_cache_key=value)) for value in (None, "tenant-a", "tenant-b")
    }
    assert len(keys) == 3 and None not in keys
    assert key_of("chat", SCOPE, _request(prompt_cache_key="tenant-a")) in keys  # and stable


def test_the_key_holds_no_prompt_and_the_stored_bytes_are_json() -> None:
    store, fake, clock = DictCacheStore(), FakeChat(), FakeClock()
    _chat(store, fake, clock).complete(_request("my secret prompt xyzzy"))
    (key,) = store.values
    assert len(key) == 64 and "xyzzy" not in key
    assert store.values[key].startswith(b"{")


def test_namespaces_do_not_share_replies() -> None:
    store, fake, clock = DictCacheStore(), FakeChat(), FakeClock()
    chat = _chat(store, fake, clock, namespace="tenant-a")
    chat.complete(_request())
    assert chat.complete(_request(), CallOptions(cache_namespace="tenant-b")).cache_hit is False
    assert chat.complete(_request()).cache_hit is True
    other = _chat(store, fake, clock, namespace="tenant-b")
    assert other.complete(_request()).cache_hit is True  # filled by the per-call namespace above
    assert len(fake.requests) == 2


def test_cache_false_neither_reads_nor_writes() -> None:
    store, fake, clock = DictCacheStore(), FakeChat(), FakeClock()
    chat = _chat(store, fake, clock)
    chat.complete(_request(), CallOptions(cache=False))
    chat.complete(_request(), CallOptions(cache=False))
    assert len(fake.requests) == 2 and not store.values and not store.gets


def test_errors_are_never_cached() -> None:
    store, clock = DictCacheStore(), FakeClock()
    fake = FakeChat(RateLimitedError("slow down", provider="fake"))
    chat = _chat(store, fake, clock)
    with pytest.raises(RateLimitedError):
        chat.complete(_request())
    assert not store.values and not store.held
    assert chat.complete(_request()).cache_hit is False
    assert len(fake.requests) == 2


def test_garbage_bytes_are_a_miss() -> None:
    store, fake, clock = DictCacheStore(), FakeChat(), FakeClock()
    chat = _chat(store, fake, clock)
    chat.complete(_request())
    (key,) = store.values
    store.values[key] = b"\x80not json"
    assert chat.complete(_request()).cache_hit is False
    assert decode(b'{"$d": "os.system", "f": {}}') is None
    assert len(fake.requests) == 2


def test_a_stream_is_replayed_in_order_with_its_finish_reason_and_usage() -> None:
    store, fake, clock = DictCacheStore(), FakeChat(), FakeClock()
    chat = _chat(store, fake, clock)
    sent = list(chat.stream(_request()))
    replayed = list(chat.stream(_request()))
    assert len(fake.requests) == 1
    assert [c.text for c in replayed] == [c.text for c in sent]
    assert replayed[-1].finish_reason == "stop" and replayed[-1].usage == sent[-1].usage
    assert all(c.cache_hit for c in replayed)
    folded = fold_stream(replayed)
    assert folded.cache_hit and folded.text == fold_stream(sent).text


def test_an_interrupted_or_abandoned_stream_is_not_stored() -> None:
    store, clock = DictCacheStore(), FakeClock()
    fake = FakeChat(FakeStreamBreak(after=2))
    chat = _chat(store, fake, clock)
    with pytest.raises(StreamInterruptedError):
        list(chat.stream(_request()))
    stream = chat.stream(_request())
    next(stream)
    stream.close()  # the caller left early
    assert not store.values and not store.held
    assert not any(c.cache_hit for c in chat.stream(_request()))
    assert len(fake.requests) == 3


def test_embeddings_send_only_the_inputs_the_cache_lacks_in_one_request() -> None:
    store, clock = DictCacheStore(), FakeClock()
    fake = FakeEmbeddings()
    service = EmbeddingService(fake, provider="fake", model="e", retrier=_retrier(clock), batch_size=2048)
    cache = ReplyCache(store=store, ttl=60.0, scope=SCOPE, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    embeddings = CachingEmbeddings(service, cache, model="e", provider="fake")
    texts = [f"text {i}" for i in range(1000)]
    embeddings.embed(EmbeddingRequest(inputs=tuple(texts[:900])))
    gets = len(store.gets)
    response = embeddings.embed(EmbeddingRequest(inputs=tuple(texts)))
    assert response.cache_hits == 900
    # One get_many for all inputs; one more for the missing, once this caller holds their claim.
    assert [len(keys) for keys in store.gets[gets:]] == [1000, 100]
    assert list(fake.requests[-1].inputs) == texts[900:]
    direct = FakeEmbeddings().embed(EmbeddingRequest(inputs=tuple(texts), model="e"))
    assert [list(v) for v in response.vectors] == [list(v) for v in direct.vectors]
    again = embeddings.embed(EmbeddingRequest(inputs=tuple(texts)))
    assert again.cache_hits == 1000 and len(fake.requests) == 2


def test_eight_threads_asking_at_once_make_one_provider_request() -> None:
    store = DictCacheStore()
    gate = threading.Event()

    class SlowChat(FakeChat):
        def complete(self, request: ChatRequest):  # type: ignore[no-untyped-def]
            gate.wait(5)
            return super().complete(request)

    fake = SlowChat()
    service = ChatService(fake, provider="fake", model="m", retrier=Retrier(RetryPolicy(0, 30.0)))
    cache = ReplyCache(store=store, ttl=60.0, scope=SCOPE, clock=time.monotonic, sleep=time.sleep)
    chat = CachingChat(service, cache, model="m", provider="fake")
    results = []
    threads = [threading.Thread(target=lambda: results.append(chat.complete(_request()))) for _ in range(8)]
    for thread in threads:
        thread.start()
    give_up = time.monotonic() + 10
    while len(store.claims) < 8 and time.monotonic() < give_up:  # all eight asked before one answers
        time.sleep(0.005)
    gate.set()
    for thread in threads:
        thread.join(10)
    assert len(fake.requests) == 1
    assert len(results) == 8 and sum(r.cache_hit for r in results) == 7


@pytest.mark.parametrize("make", [RaisingCacheStore, DictCacheStore])
def test_a_failing_store_never_fails_a_call(make: object) -> None:
    store, fake, clock = make(), FakeChat(), FakeClock()  # type: ignore[operator]
    if isinstance(store, DictCacheStore):
        store.failing = True
    chat = _chat(store, fake, clock)
    assert chat.complete(_request()).text and chat.complete(_request()).cache_hit is False
    assert [c.text for c in chat.stream(_request())]
    assert len(fake.requests) == 3
    chat.close()


def test_a_slow_store_leaves_the_call_within_its_deadline() -> None:
    clock = FakeClock()
    left: list[float] = []

    class TimedChat(FakeChat):
        def complete(self, request: ChatRequest):  # type: ignore[no-untyped-def]
            deadline = current_deadline()
            assert deadline is not None
            left.append(deadline.remaining())
            return super().complete(request)

    store, fake = SlowCacheStore(delay=100.0, sleep=clock.sleep), TimedChat()
    chat = _chat(store, fake, clock, deadline=10.0)
    response = chat.complete(_request())
    assert response.text and len(fake.requests) == 1
    assert left[0] >= 5.0  # the store had half the call's time at most; the provider the rest
    assert clock.elapsed <= 10.0


def test_the_codec_round_trips_a_reply_with_tool_calls() -> None:
    fake = FakeChat()
    response = fake.complete(_request(model="m"))
    assert decode(encode(response)) == response


@pytest.fixture
def info(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="llmport")
    return caplog


def test_the_one_call_event_says_whether_the_cache_hit(info: pytest.LogCaptureFixture) -> None:
    store, fake, clock = DictCacheStore(), FakeChat(), FakeClock()
    chat = _chat(store, fake, clock)
    with capture_logs() as entries:
        chat.complete(_request())
        chat.complete(_request())
        list(chat.stream(_request()))
        list(chat.stream(_request()))
    calls = [entry for entry in entries if entry["event"] == "llmport.call"]
    assert [(entry["operation"], entry["cache"]) for entry in calls] == [
        ("chat", "miss"),
        ("chat", "hit"),
        ("chat.stream", "miss"),
        ("chat.stream", "hit"),
    ]
    assert calls[1]["attempt"] == 0 and calls[1]["request_id"] == calls[0]["request_id"]


def test_the_embedding_call_event_says_whether_the_cache_hit(info: pytest.LogCaptureFixture) -> None:
    store, clock = DictCacheStore(), FakeClock()
    service = EmbeddingService(FakeEmbeddings(), provider="fake", model="e", retrier=_retrier(clock))
    cache = ReplyCache(store=store, ttl=60.0, scope=SCOPE, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    embeddings = CachingEmbeddings(service, cache, model="e", provider="fake")
    with capture_logs() as entries:
        embeddings.embed(EmbeddingRequest(inputs=("a", "b")))
        embeddings.embed(EmbeddingRequest(inputs=("a", "b")))
    assert [entry["cache"] for entry in entries if entry["event"] == "llmport.call"] == ["miss", "hit"]


def test_eight_threads_embedding_the_same_inputs_make_one_provider_request() -> None:
    store = DictCacheStore()
    gate = threading.Event()

    class SlowEmbeddings(FakeEmbeddings):
        def embed(self, request: EmbeddingRequest):  # type: ignore[no-untyped-def]
            gate.wait(5)
            return super().embed(request)

    fake = SlowEmbeddings()
    service = EmbeddingService(fake, provider="fake", model="e", retrier=Retrier(RetryPolicy(0, 30.0)))
    cache = ReplyCache(store=store, ttl=60.0, scope=SCOPE, clock=time.monotonic, sleep=time.sleep)
    embeddings = CachingEmbeddings(service, cache, model="e", provider="fake")
    results = []
    request = EmbeddingRequest(inputs=("a", "b", "c"))
    threads = [threading.Thread(target=lambda: results.append(embeddings.embed(request))) for _ in range(8)]
    for thread in threads:
        thread.start()
    give_up = time.monotonic() + 10
    while len(store.claims) < 8 and time.monotonic() < give_up:  # all eight asked before one answers
        time.sleep(0.005)
    gate.set()
    for thread in threads:
        thread.join(10)
    assert len(fake.requests) == 1
    assert sorted(r.cache_hits for r in results) == [0] + [3] * 7
    assert all([list(v) for v in r.vectors] == [list(v) for v in results[0].vectors] for r in results)


def test_a_memory_cache_entry_expires_on_the_container_clock_without_sleeping(clock: FakeClock) -> None:
    settings = Settings(provider="fake", cache="memory", cache_ttl=10)
    fake = FakeChat()
    container = Container(settings=settings)
    container.chat_adapter.override(providers.Object(fake))
    container.clock.override(providers.Object(clock))
    container.sleep.override(providers.Object(clock.sleep))
    started = time.monotonic()
    with build_client(settings, container) as client:
        assert not client.chat("hi").cache_hit
        clock.advance(9.5)
        assert client.chat("hi").cache_hit  # 9.5 s old: still fresh
        clock.advance(1.0)
        assert not client.chat("hi").cache_hit  # 10.5 s old: expired, asked again
        assert client.chat("hi").cache_hit  # and stored again
    assert len(fake.requests) == 2
    assert clock.sleeps == [] and time.monotonic() - started < 5.0  # no sleep, real or injected


def test_a_missed_stream_that_fails_or_is_abandoned_still_logs_the_miss(
    info: pytest.LogCaptureFixture,
) -> None:
    store, clock = DictCacheStore(), FakeClock()
    fake = FakeChat(FakeStreamBreak(after=0), FakeStreamBreak(after=2))
    chat = _chat(store, fake, clock)
    with capture_logs() as entries:
        with pytest.raises(StreamInterruptedError):
            list(chat.stream(_request()))  # fails before its first chunk
        with pytest.raises(StreamInterruptedError):
            list(chat.stream(_request()))  # fails after two
        stream = chat.stream(_request())
        next(stream)
        stream.close()  # the caller left early
    calls = [entry for entry in entries if entry["event"] == "llmport.call"]
    assert [(entry["status"], entry.get("cache")) for entry in calls] == [
        ("error", "miss"),
        ("error", "miss"),
        ("cancelled", "miss"),
    ]


def test_a_waiter_takes_the_claim_as_soon_as_its_holder_gives_it_back_without_a_reply() -> None:
    class GivenBackStore(DictCacheStore):
        """Another caller holds every claim for the first three asks, then gives it back empty."""

        def claim(self, key: str, seconds: float) -> bool:
            if len(self.claims) < 3:
                self.claims.append((key, seconds, False))
                return False
            return super().claim(key, seconds)

    store, fake, clock = GivenBackStore(), FakeChat(), FakeClock()
    chat = _chat(store, fake, clock, deadline=30.0)
    reply = chat.complete(_request())
    assert not reply.cache_hit and len(fake.requests) == 1
    assert clock.elapsed < 1.0  # not the 15 s of its share: it asked once the claim was free
    assert store.values and not store.held


def test_a_reply_stored_between_the_first_look_and_the_claim_is_not_asked_for_again() -> None:
    fake, clock = FakeChat(), FakeClock()
    stored = FakeChat().complete(_request(model="m"))

    class FinishedMeanwhile(DictCacheStore):
        """Another caller stores the reply and gives the claim back just before this one claims."""

        def claim(self, key: str, seconds: float) -> bool:
            if not self.claims:
                self.values[key] = encode(stored)  # type: ignore[assignment]
            return super().claim(key, seconds)

    store = FinishedMeanwhile()
    chat = _chat(store, fake, clock)
    reply = chat.complete(_request())
    assert reply.cache_hit and reply.text == stored.text
    assert not fake.requests and not store.held
