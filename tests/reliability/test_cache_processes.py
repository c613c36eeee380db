"""The reply cache's single flight across real processes, through a real redis-server (issue 21).

Each process (tests/support/cache_asker.py) builds its own client with ``cache="redis://..."``
and asks the loopback server (which numbers its replies, so two requests never give the same
text) when the test says go: N processes asking the same uncached question at once make one
request, and a process that gives up waiting, or one killed while it holds the claim, holds no
one past their deadline or the claim's end.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from loopback import LoopbackServer, RecordedRequest, Reply
from redis_server import RedisServer
from wire_samples import chat_chunks, chat_completion, embedding_list, vector_for

ASKER = str(Path(__file__).parents[1] / "support" / "cache_asker.py")
#: How many processes ask at once.
COUNT = 4
#: Seconds each reply takes at the server unless a test says otherwise: the asks overlap.
SLOW = 0.5
#: What a loaded 2-core machine may add to a process's call past what the test expects.
SLACK = 3.0


def numbered(index: int, request: RecordedRequest) -> Reply:
    """The server's reply number ``index``: its text (or vectors) say which request it answers."""
    body = request.body if isinstance(request.body, dict) else {}
    if request.op == "embeddings":
        vectors = [vector_for(100 * index + i, 3) for i in range(len(body.get("input") or []))]
        return Reply(body=embedding_list(vectors))
    if body.get("stream"):
        return Reply(events=chat_chunks(("reply ", str(index))))
    return Reply(body=chat_completion(f"reply {index}"))


@dataclass
class Delays:
    """Seconds before each reply: ``first`` for the first request after ``reset()``, ``rest`` after."""

    first: float = SLOW
    rest: float = SLOW
    since: int = 0

    def __call__(self, index: int, request: RecordedRequest) -> Reply:
        return replace(numbered(index, request), delay=self.first if index == self.since else self.rest)


class Asker:
    """One process with its own client; ``send`` a command, then ``result()``."""

    def __init__(self, server: LoopbackServer, cache_url: str) -> None:
        args = [sys.executable, ASKER, f"{server.url}/v1", server.api_key, cache_url]
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        assert self._next() == {"started": True}

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)

    def _next(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self._lines.get(timeout=60)))
        except queue.Empty:
            raise AssertionError("the asking process said nothing for 60 s") from None

    def send(self, go: Path, op: str, text: str, deadline: float | None = None) -> None:
        """Tell the process what to ask once ``go`` exists; returns when it is ready to."""
        assert self.process.stdin is not None
        command = {"op": op, "text": text, "deadline": deadline, "go": str(go)}
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        assert self._next() == {"ready": True}

    def result(self) -> dict[str, Any]:
        return self._next()

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def loopback() -> Iterator[LoopbackServer]:
    with LoopbackServer() as running:
        yield running


@pytest.fixture(scope="module")
def askers(loopback: LoopbackServer, redis_server: RedisServer) -> Iterator[list[Asker]]:
    started = [Asker(loopback, redis_server.url) for _ in range(COUNT)]
    yield started
    for asker in started:
        asker.close()


@pytest.fixture
def delays(loopback: LoopbackServer) -> Iterator[Delays]:
    delays = Delays(since=loopback.count)
    loopback.respond_with(delays)
    yield delays
    loopback.respond_with(None)


class Rounds:
    """Go files, one per round of asking."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def next(self) -> Path:
        self.count += 1
        return self.folder / f"go-{self.count}"


def ask_at_once(askers: list[Asker], rounds: Rounds, op: str, text: str) -> list[dict[str, Any]]:
    go = rounds.next()
    for asker in askers:
        asker.send(go, op, text)
    go.touch()
    return [asker.result() for asker in askers]


def sent_since(server: LoopbackServer, before: int) -> list[RecordedRequest]:
    return server.requests[before:]


def wait_for_requests(server: LoopbackServer, count: int) -> None:
    give_up = time.monotonic() + 30
    while server.count < count:
        assert time.monotonic() < give_up, f"the server saw {server.count} requests of {count} in 30 s"
        time.sleep(0.005)


def test_processes_asking_the_same_question_at_once_make_one_request(
    loopback: LoopbackServer, askers: list[Asker], delays: Delays, tmp_path: Path
) -> None:
    rounds = Rounds(tmp_path)
    for op, text in (("chat", "one question"), ("stream", "one question"), ("embed", "alpha beta gamma")):
        before = loopback.count
        results = ask_at_once(askers, rounds, op, text)
        assert all("error" not in result for result in results), results
        assert len(sent_since(loopback, before)) == 1, (op, results)
        if op == "embed":
            assert sorted(result["cache_hits"] for result in results) == [0] + [3] * (COUNT - 1)
            assert all(result["vectors"] == results[0]["vectors"] for result in results)
        else:
            assert sorted(result["cache_hit"] for result in results) == [False] + [True] * (COUNT - 1)
            assert {result["text"] for result in results} == {f"reply {before}"}
        if op == "stream":
            assert loopback.last.body["stream"] is True
            assert all(result["chunks"] == results[0]["chunks"] for result in results)


def test_waiters_with_a_short_deadline_give_up_in_time_and_ask_themselves(
    loopback: LoopbackServer, askers: list[Asker], delays: Delays, tmp_path: Path
) -> None:
    delays.first, delays.rest = 2.0, 0.0  # the first asker's call outlasts the others' deadline
    rounds = Rounds(tmp_path)
    first, others = askers[0], askers[1:]
    before = loopback.count
    go_first, go_others = rounds.next(), rounds.next()
    first.send(go_first, "chat", "a slow question", deadline=20.0)
    for asker in others:
        asker.send(go_others, "chat", "a slow question", deadline=1.0)
    go_first.touch()
    wait_for_requests(loopback, before + 1)  # the first holds the claim and waits for its reply
    go_others.touch()
    results = [asker.result() for asker in others]
    assert all("error" not in result for result in results), results
    # Half of each waiter's 1 s went to waiting for the first; then it asked for itself.
    assert all(0.45 <= result["seconds"] < 1.0 + SLACK for result in results), results
    assert not any(result["cache_hit"] for result in results)
    assert len({result["text"] for result in results}) == COUNT - 1
    assert first.result()["text"] == f"reply {before}"
    assert len(sent_since(loopback, before)) == COUNT


def test_a_process_killed_while_it_holds_the_claim_blocks_no_one_past_the_claim(
    loopback: LoopbackServer,
    askers: list[Asker],
    redis_server: RedisServer,
    delays: Delays,
    tmp_path: Path,
) -> None:
    claim = 2.0  # the killed process's deadline: its claim ends that long after it asked
    delays.first, delays.rest = 2.5, 0.3
    rounds = Rounds(tmp_path)
    doomed = Asker(loopback, redis_server.url)
    before = loopback.count
    go_doomed, go_others = rounds.next(), rounds.next()
    doomed.send(go_doomed, "chat", "a question whose asker dies", deadline=claim)
    for asker in askers:
        asker.send(go_others, "chat", "a question whose asker dies", deadline=20.0)
    go_doomed.touch()
    asked = time.monotonic()
    wait_for_requests(loopback, before + 1)
    os.kill(doomed.process.pid, signal.SIGKILL)
    doomed.process.wait(10)
    go_others.touch()
    results = [asker.result() for asker in askers]
    done = time.monotonic()
    assert all("error" not in result for result in results), results
    # Each waiter had 10 s (half its deadline) to wait; the claim ended 2 s after the dead one asked,
    # then one of them asked for everyone.
    assert done - asked < claim + 0.3 + SLACK, [result["seconds"] for result in results]
    assert len(sent_since(loopback, before)) == 2
    assert {result["text"] for result in results} == {f"reply {before + 1}"}
    assert sorted(result["cache_hit"] for result in results) == [False] + [True] * (COUNT - 1)
