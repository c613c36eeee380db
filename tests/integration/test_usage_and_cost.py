"""Usage and cost under 8 threads: the client's totals equal the sum of the per-call usage and cost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from llmport.adapters.fakes import FakeChat, FakeEmbeddings
from llmport.domain.models import ChatResponse, Message, Usage
from llmport.testing import fake_client

THREADS = 8
ROUNDS = 40
PRICES = {
    "gpt-4o": {"input": 2.5, "cached_input": 1.25, "output": 10.0},
    "fake-chat": {"input": 0.15, "output": 0.6},
    "fake-embedding": {"input": 0.02},
}


class _CachingChat(FakeChat):
    """A FakeChat whose replies to the deployment 'prod-chat' name Azure's base model and report
    cached and reasoning tokens, as Azure's do."""

    def complete(self, request):  # type: ignore[no-untyped-def]
        reply = super().complete(request)
        if request.model != "prod-chat":
            return reply
        usage = reply.usage
        return ChatResponse(
            Message.assistant(reply.text),
            "stop",
            Usage(usage.prompt_tokens + 7, usage.completion_tokens, usage.total_tokens + 7, 7, 2),
            model="gpt-4o-2024-08-06",
        )


def test_totals_under_8_threads_equal_the_sum_of_every_calls_usage_and_cost() -> None:
    client = fake_client(
        _CachingChat(),
        FakeEmbeddings(),
        prices=PRICES,
        deployment_models={"prod-chat": "gpt-4o"},
        embedding_batch_size=2,
        embedding_max_workers=3,
    )
    view = client.with_options(max_retries=1)  # a view's calls add to the same ledger
    lock = threading.Lock()
    calls: list[tuple[str, Usage, float]] = []  # (deployment, usage, cost) per call

    def work(worker: int) -> None:
        for number in range(ROUNDS):
            words = " ".join(["w"] * (worker + number % 5 + 1))
            kind = number % 4
            if kind == 0:
                reply = client.chat(words)
                seen = ("fake-chat", reply.usage, reply.cost.total if reply.cost else 0.0)
            elif kind == 1:
                reply = view.chat(words, model="prod-chat")
                seen = ("prod-chat", reply.usage, reply.cost.total if reply.cost else 0.0)
            elif kind == 2:
                last = [chunk for chunk in client.stream(words) if chunk.usage is not None][-1]
                assert last.usage is not None
                seen = ("fake-chat", last.usage, last.cost.total if last.cost else 0.0)
            else:
                texts = [words] * (number % 7 + 1)  # up to 4 batches of 2, on the pool
                response = view.embed(texts)
                seen = ("fake-embedding", response.usage, response.cost.total if response.cost else 0.0)
            assert seen[2] > 0, seen  # every call here is priced
            with lock:
                calls.append(seen)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(work, range(THREADS)))

    usage = client.usage
    summed = sum((call[1] for call in calls), Usage())
    assert usage.calls == len(calls) == THREADS * ROUNDS
    assert usage.usage == summed
    assert usage.cached_tokens > 0 and usage.reasoning_tokens > 0
    assert usage.cost == pytest.approx(sum(call[2] for call in calls), rel=1e-9)
    assert usage.unpriced_calls == 0
    per_deployment = Counter(call[0] for call in calls)
    assert {name: totals.calls for name, totals in usage.by_deployment.items()} == dict(per_deployment)
    for name, totals in usage.by_deployment.items():
        assert totals.usage == sum((call[1] for call in calls if call[0] == name), Usage())
        assert totals.cost == pytest.approx(sum(call[2] for call in calls if call[0] == name), rel=1e-9)
    # prod-chat replies name gpt-4o-2024-08-06, yet are counted and priced as the mapped gpt-4o.
    assert set(usage.by_model) == {"gpt-4o", "fake-chat", "fake-embedding"}
    assert usage.by_model["gpt-4o"] == usage.by_deployment["prod-chat"]


def test_reset_under_load_loses_no_call() -> None:
    client = fake_client(prices=PRICES)
    stop = threading.Event()
    cleared: list[int] = []

    def reset_often() -> None:
        while not stop.is_set():
            cleared.append(client.reset_usage().calls)

    resetter = threading.Thread(target=reset_often)
    resetter.start()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda _: [client.chat("hi") for _ in range(50)], range(THREADS)))
    stop.set()
    resetter.join()
    assert sum(cleared) + client.usage.calls == THREADS * 50


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_", "LLMPORT_"))}
    return subprocess.run(
        [sys.executable, "-m", "llmport", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=base | {"LLMPORT_PROVIDER": "fake"} | env,
        check=False,
    )


def test_cli_chat_json_shows_the_cost_and_the_clients_usage() -> None:
    result = _cli("chat", "--json", "hello there", LLMPORT_PRICES='{"fake-chat": {"input": 1, "output": 2}}')
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["cost"]["model"] == "fake-chat" and reply["cost"]["total"] > 0
    totals = reply["client_usage"]
    assert totals["calls"] == 1 and totals["prompt_tokens"] == reply["usage"]["prompt_tokens"]
    assert totals["by_deployment"]["fake-chat"]["cost"] == pytest.approx(reply["cost"]["total"])


def test_cli_doctor_says_what_each_call_was_priced_as_and_the_totals() -> None:
    result = _cli(
        "doctor",
        LLMPORT_CHAT_MODEL="prod-chat",
        LLMPORT_PRICES='{"gpt-4o": {"input": 2.5, "output": 10}}',
        LLMPORT_DEPLOYMENT_MODELS='{"prod-chat": "gpt-4o"}',
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert "model=prod-chat" in rows["chat"] and "(priced as gpt-4o)" in rows["chat"]
    assert "cost=unpriced" in rows["embeddings"]
    assert "2 calls:" in rows["usage"] and "(1 unpriced)" in rows["usage"]


def test_fold_stream_keeps_the_cost_of_the_chunk_that_carried_the_usage() -> None:
    import llmport

    with llmport.from_dict(
        {"provider": "fake", "prices": {"fake-chat": {"input": 1.0, "output": 2.0}}}
    ) as client:
        chunks = list(client.stream("Tell me a story"))
        folded = llmport.fold_stream(chunks)
    priced = [chunk.cost for chunk in chunks if chunk.cost is not None]
    assert len(priced) == 1
    assert folded.cost == priced[0]
    assert folded.cost is not None and folded.cost.total > 0
