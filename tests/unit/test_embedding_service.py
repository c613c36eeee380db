"""EmbeddingService and batching: count and token limits, order, usage, parallel batches, failures."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from llmport.adapters.fakes import FakeCredential, FakeEmbeddings
from llmport.domain.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ProviderError,
    ServiceUnavailableError,
)
from llmport.domain.models import EmbeddingRequest, EmbeddingResponse, Usage
from llmport.services.batching import estimate_tokens, plan_batches
from llmport.services.embeddings import EmbeddingService
from llmport.services.retry import Retrier, RetryPolicy
from llmport.services.token_cache import TokenCache

if TYPE_CHECKING:
    from clock import FakeClock


def service(embeddings: object, clock: FakeClock, **options: object) -> EmbeddingService:
    retrier = Retrier(RetryPolicy(max_retries=2), sleep=clock.sleep, clock=clock, rand=lambda: 0.5)
    options.setdefault("model", "embed-test")
    return EmbeddingService(embeddings, provider="fake", retrier=retrier, **options)  # type: ignore[arg-type]


def texts(count: int) -> list[str]:
    return [f"text number {index}" for index in range(count)]


def test_estimate_is_utf8_bytes_over_three_rounded_up() -> None:
    assert estimate_tokens("a") == 1
    assert estimate_tokens("abcdef") == 2
    assert estimate_tokens("abcdefg") == 3
    assert estimate_tokens("日本") == 2  # 6 bytes


def test_batches_close_at_the_count_or_the_token_budget_and_cover_every_input_in_order() -> None:
    assert plan_batches(["x"] * 5, 2, 100) == [range(0, 2), range(2, 4), range(4, 5)]
    # 30 characters estimate 10 tokens: three fit a budget of 30, the fourth starts a batch.
    assert plan_batches(["a" * 30] * 5, 100, 30) == [range(0, 3), range(3, 5)]


def test_a_text_larger_than_the_budget_goes_alone() -> None:
    assert plan_batches(["small", "b" * 300, "small"], 100, 20) == [range(0, 1), range(1, 2), range(2, 3)]


def test_5000_inputs_make_3_requests_in_order_with_usage_summed(clock: FakeClock) -> None:
    fake = FakeEmbeddings()
    inputs = texts(5000)
    response = service(fake, clock).embed(EmbeddingRequest(tuple(inputs)))
    assert [len(sent.inputs) for sent in fake.requests] == [2048, 2048, 904]
    assert [text for sent in fake.requests for text in sent.inputs] == inputs
    assert list(response.vectors) == [FakeEmbeddings.vector(text) for text in inputs]
    assert response.usage == Usage(prompt_tokens=3 * 5000, total_tokens=3 * 5000)
    assert all(sent.model == "embed-test" for sent in fake.requests)


def test_the_token_budget_splits_requests(clock: FakeClock) -> None:
    fake = FakeEmbeddings()
    inputs = ["a" * 300] * 10  # 100 estimated tokens each
    response = service(fake, clock, token_budget=450).embed(EmbeddingRequest(tuple(inputs)))
    assert [len(sent.inputs) for sent in fake.requests] == [4, 4, 2]
    assert len(response.vectors) == 10


def test_one_batch_sends_the_request_as_it_is(clock: FakeClock) -> None:
    fake = FakeEmbeddings()
    request = EmbeddingRequest(("a", "b"), model="m", dimensions=4)
    response = service(fake, clock).embed(request)
    assert fake.requests == [request]
    assert [len(vector) for vector in response.vectors] == [4, 4]


class OutOfOrderEmbeddings:
    """Holds the first batch until the last one has been answered, so only a pool can finish."""

    def __init__(self, last_input: str) -> None:
        self.inner = FakeEmbeddings()
        self.last_input = last_input
        self.last_done = threading.Event()
        self.threads: set[str] = set()

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        self.threads.add(threading.current_thread().name)
        if request.inputs[0] == "text number 0":
            assert self.last_done.wait(timeout=10), "the last batch never ran alongside the first"
        response = self.inner.embed(request)
        if self.last_input in request.inputs:
            self.last_done.set()
        return response


def test_parallel_batches_come_back_in_input_order(clock: FakeClock) -> None:
    inputs = texts(95)
    fake = OutOfOrderEmbeddings(inputs[-1])
    embedding_service = service(fake, clock, batch_size=10, max_workers=4)
    response = embedding_service.embed(EmbeddingRequest(tuple(inputs)))
    embedding_service.close()
    assert list(response.vectors) == [FakeEmbeddings.vector(text) for text in inputs]
    assert response.usage.prompt_tokens == 3 * 95
    assert len(fake.inner.requests) == 10
    assert all(name.startswith("llmport-embed") for name in fake.threads)


def test_each_batch_is_retried_on_its_own(clock: FakeClock) -> None:
    fake = FakeEmbeddings(ServiceUnavailableError("down", status_code=503))
    response = service(fake, clock, batch_size=3).embed(EmbeddingRequest(tuple(texts(6))))
    assert [sent.inputs[0] for sent in fake.requests] == ["text number 0", "text number 0", "text number 3"]
    assert clock.sleeps == [0.25]
    assert len(response.vectors) == 6


def test_a_batch_that_finally_fails_fails_the_whole_call(clock: FakeClock) -> None:
    error = BadRequestError("input too long", status_code=400)
    fake = FakeEmbeddings(EmbeddingResponse(vectors=[[1.0], [1.0]]), error)
    with pytest.raises(BadRequestError) as raised:
        service(fake, clock, batch_size=2).embed(EmbeddingRequest(tuple(texts(6))))
    assert raised.value is error
    assert len(fake.requests) == 2  # the third batch is never sent


def test_a_failing_batch_in_the_pool_fails_the_call_with_its_domain_error(clock: FakeClock) -> None:
    error = BadRequestError("bad batch", status_code=400)
    fake = FakeEmbeddings(error)
    embedding_service = service(fake, clock, batch_size=2, max_workers=3)
    with pytest.raises(BadRequestError) as raised:
        embedding_service.embed(EmbeddingRequest(tuple(texts(6))))
    embedding_service.close()
    assert raised.value is error


def test_a_short_answer_is_a_provider_error_rather_than_misaligned_vectors(clock: FakeClock) -> None:
    fake = FakeEmbeddings(EmbeddingResponse(vectors=[[1.0]]))
    with pytest.raises(ProviderError, match="1 vectors for 2 inputs"):
        service(fake, clock).embed(EmbeddingRequest(("a", "b")))
    assert len(fake.requests) == 1


def test_an_unexpected_exception_is_wrapped_in_a_provider_error(clock: FakeClock) -> None:
    bug = AttributeError("data")
    fake = FakeEmbeddings(bug)
    with pytest.raises(ProviderError) as raised:
        service(fake, clock).embed(EmbeddingRequest(("a",)))
    assert raised.value.__cause__ is bug
    assert len(fake.requests) == 1


def test_a_401_in_a_batch_refreshes_the_token_and_retries_once(clock: FakeClock) -> None:
    credential = FakeCredential()
    cache = TokenCache(credential)
    cache.token()
    fake = FakeEmbeddings(AuthenticationError("expired", status_code=401))
    response = service(fake, clock, token_cache=cache).embed(EmbeddingRequest(("a",)))
    assert len(response.vectors) == 1
    assert len(fake.requests) == 2
    assert cache.token() == "fake-token-2"


def test_no_model_anywhere_is_a_configuration_error_naming_the_setting(clock: FakeClock) -> None:
    fake = FakeEmbeddings()
    with pytest.raises(ConfigurationError, match=r"embedding_model.*LLMPORT_EMBEDDING_MODEL"):
        service(fake, clock, model=None).embed(EmbeddingRequest(("a",)))
    assert fake.requests == []


@pytest.mark.parametrize(
    ("option", "value", "setting"),
    [
        ("batch_size", 0, "embedding_batch_size"),
        ("batch_size", 2049, "embedding_batch_size"),
        ("token_budget", 0, "embedding_token_budget"),
        ("max_workers", 0, "embedding_max_workers"),
    ],
)
def test_limits_out_of_range_are_configuration_errors(
    clock: FakeClock, option: str, value: int, setting: str
) -> None:
    with pytest.raises(ConfigurationError, match=setting):
        service(FakeEmbeddings(), clock, **{option: value})


def test_close_closes_the_adapter(clock: FakeClock) -> None:
    fake = FakeEmbeddings()
    embedding_service = service(fake, clock, max_workers=2)
    embedding_service.close()
    embedding_service.close()
    assert fake.closed is True
