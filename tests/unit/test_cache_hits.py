"""What makes a reply-cache hit cheap (keys written once, decoded hits kept, vectors as raw doubles)
changes no key and no reply: over the dict store fake and the fake provider."""

from __future__ import annotations

import dataclasses
import math
from array import array

from cache_fakes import DictCacheStore
from clock import FakeClock

from llmport.adapters.fakes import FakeChat
from llmport.domain.call_options import CallOptions
from llmport.domain.messages import ImagePart, Message, TextPart
from llmport.domain.models import ChatRequest, ChatResponse, Usage
from llmport.domain.tools import ToolSpec
from llmport.services.cache_codec import decode, encode, key_of
from llmport.services.cache_memo import MEMO_ENTRIES, MEMO_ENTRY_BYTES, DecodedMemo
from llmport.services.cache_store import ReplyCache
from llmport.services.caching import CachingChat
from llmport.services.chat import ChatService
from llmport.services.retry import Retrier, RetryPolicy

SCOPE = {"provider": "openai", "base_url": "http://127.0.0.1:1/v1", "endpoint": None, "deployments": ["a"]}


def _cache(store: object, clock: FakeClock, namespace: str = "") -> ReplyCache:
    return ReplyCache(store=store, ttl=60.0, scope=SCOPE, namespace=namespace, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]


def _chat(store: DictCacheStore, fake: FakeChat, clock: FakeClock) -> CachingChat:
    retrier = Retrier(RetryPolicy(max_retries=0, deadline=30.0), sleep=clock.sleep, clock=clock)
    service = ChatService(fake, provider="fake", model="m", retrier=retrier)
    return CachingChat(service, _cache(store, clock), model="m", provider="fake")


def _request(text: str = "hello there", **fields: object) -> ChatRequest:
    return ChatRequest(messages=(Message.user(text),), **fields)  # type: ignore[arg-type]


def test_keys_written_once_per_client_are_the_keys_of_the_whole_request() -> None:
    cache = _cache(DictCacheStore(), FakeClock(), namespace="tenant-a")
    requests = [
        _request(),
        _request("é ☃ \u2028", temperature=0.5, seed=7, extra={"z": [1, 2], "a": {"b": None}}),
        _request(tools=(ToolSpec("lookup", "finds a thing"),), model="other"),
        ChatRequest(messages=(Message.user([TextPart("look"), ImagePart(data=b"\x89PNG")]),)),
    ]
    for request in requests:
        whole = request if request.model is not None else dataclasses.replace(request, model="m")
        expected = key_of("chat", {**SCOPE, "namespace": "tenant-a"}, whole)
        assert cache.key("chat", request, None, model="m") == expected
        other = key_of("chat", {**SCOPE, "namespace": "tenant-b"}, whole)
        assert (
            cache.key("chat", request, CallOptions(cache_namespace="tenant-b"), model="m")
            == other
            != expected
        )
    texts = ["red", "gréen", "x" * 500]
    for shape in ({"model": "emb", "dimensions": None}, {"model": "emb", "dimensions": 256}):
        each = [key_of("embedding", {**SCOPE, "namespace": "tenant-a"}, {**shape, "input": t}) for t in texts]
        assert cache.input_keys("embedding", shape, texts, None) == each
        assert len(set(each)) == len(texts)


def test_a_vector_is_stored_as_its_exact_doubles() -> None:
    vector = array("d", [0.1, -1e-300, 3.4028234663852886e38, 1 / 3, -0.0])
    data = encode(vector)
    assert data is not None and len(data) == 2 + 8 * len(vector)
    back = decode(data)
    assert isinstance(back, array) and back.tolist() == vector.tolist()
    assert math.copysign(1.0, back[4]) == -1.0
    assert encode(array("d", [1.0, math.nan])) is None and encode(array("d", [math.inf])) is None
    assert decode(data[:-3]) is None  # cut short: garbage, a miss


def test_a_hit_nothing_can_change_is_decoded_once_then_handed_out_again() -> None:
    store, fake, clock = DictCacheStore(), FakeChat(), FakeClock()
    chat = _chat(store, fake, clock)
    first = chat.complete(_request())
    second, third = chat.complete(_request()), chat.complete(_request())
    assert second is third and second.cache_hit and not first.cache_hit
    assert dataclasses.replace(second, cache_hit=False) == first
    ((key, data),) = store.values.items()
    store.values[key] = bytes(bytearray(data))  # equal bytes, another object (as Redis returns)
    assert chat.complete(_request()) is second
    assert len(fake.requests) == 1


def test_a_hit_holding_a_dict_is_decoded_afresh_every_time() -> None:
    filtered = ChatResponse(
        message=Message.assistant("fine"), usage=Usage(1, 1, 2), content_filter={"hate": {"filtered": False}}
    )
    store, fake, clock = DictCacheStore(), FakeChat(filtered), FakeClock()
    chat = _chat(store, fake, clock)
    chat.complete(_request())
    second = chat.complete(_request())
    assert second.content_filter is not None
    second.content_filter["hate"]["filtered"] = True  # type: ignore[index]  # a caller's own copy
    third = chat.complete(_request())
    assert third is not second and third.content_filter == {"hate": {"filtered": False}}


def test_a_kept_hit_never_outlives_the_bytes_the_store_holds() -> None:
    store, fake, clock = DictCacheStore(), FakeChat("old", "new"), FakeClock()
    chat = _chat(store, fake, clock)
    chat.complete(_request())
    assert chat.complete(_request()).text == "old"
    ((key, _data),) = store.values.items()
    replaced = encode(ChatResponse(message=Message.assistant("replaced"), usage=Usage(1, 1, 2)))
    assert replaced is not None
    store.values[key] = replaced
    assert chat.complete(_request()).text == "replaced"
    del store.values[key]  # expired or evicted: a miss, sent again
    assert chat.complete(_request()).text == "new" and len(fake.requests) == 2


def test_stream_hits_replay_the_same_kept_chunks() -> None:
    store, fake, clock = DictCacheStore(), FakeChat(), FakeClock()
    chat = _chat(store, fake, clock)
    sent = list(chat.stream(_request()))
    again, once_more = list(chat.stream(_request())), list(chat.stream(_request()))
    assert [c.text for c in again] == [c.text for c in sent] and all(c.cache_hit for c in again)
    assert all(a is b for a, b in zip(again, once_more, strict=True))
    assert len(fake.requests) == 1


def test_the_memo_is_bounded_in_entries_and_keeps_no_large_value() -> None:
    memo = DecodedMemo()
    small = encode(ChatResponse(message=Message.assistant("hi"), usage=Usage(1, 1, 2)))
    assert small is not None

    def marked(value: object) -> object:
        return dataclasses.replace(value, cache_hit=True) if isinstance(value, ChatResponse) else None

    for number in range(MEMO_ENTRIES * 2 + 3):
        memo.hit(f"k{number}", small, marked)
    assert len(memo._entries) <= MEMO_ENTRIES
    large = encode(ChatResponse(message=Message.assistant("x" * MEMO_ENTRY_BYTES), usage=Usage(1, 1, 2)))
    assert large is not None
    first, second = memo.hit("large", large, marked), memo.hit("large", large, marked)
    assert first == second and first is not second
    assert memo.hit("garbage", b"\x80not json", marked) is None
