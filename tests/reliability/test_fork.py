"""Fork safety (issue 9, defect 1): after ``os.fork()`` no reply crosses between processes.

A pre-fork server builds the client in the parent and often calls once there (a warm-up or a
health check), so a pooled keep-alive socket exists when it forks. Parent and child then call at
the same time. Every request carries who sent it (``parent-<pid>-<i>``), the server echoes it back
in the body and in ``x-request-id``, and each process checks that each reply is to its own request.
The server also notes which connection carried each request: no connection may carry the requests
of two processes, and the parent's warm-up connection none of the child's.

Real parts only: real clients (real adapters, openai SDK and httpx) against the loopback server on
127.0.0.1, a real ``os.fork()``, and the Flask example under a real ``gunicorn --preload -w 3``.
Every loop stops by itself: a process stops calling after ``LOOP_BUDGET`` seconds or
``MAX_FAILURES`` wrong replies, a child always ends with ``os._exit`` (an alarm kills it if it
hangs), and the parent kills a child that has not reported in time.

Print the figures (for docs/reliability.md):
``PYTHONPATH=tests/support python tests/reliability/test_fork.py``.
"""

from __future__ import annotations

import contextlib
import gc
import http.client
import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest
from dependency_injector import providers
from harness import PROVIDERS, settings_for
from loopback import LoopbackServer, RecordedRequest, Reply
from wire_samples import chat_chunks, chat_completion, embedding_list

from llmport import Client, build_client
from llmport.domain.models import AccessToken
from llmport.testing import Container

HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")

#: Calls each process makes after the fork, per kind of call.
CALLS = {"chat": 300, "stream": 100, "embed": 100}
KINDS = tuple(CALLS)
#: Inputs per embed call; with a batch size of 1 each is its own request, sent by the batch pool.
EMBED_INPUTS = 2
# Every failure counts (a retry could hide a reply read off a shared socket); short socket
# timeouts so that a process reading a reply that another took fails fast instead of hanging.
CALL_OPTIONS: dict[str, Any] = {
    "max_retries": 0,
    "timeout": 3.0,
    "deadline": 6.0,
    "embedding_batch_size": 1,
    "embedding_max_workers": 2,
}
LOOP_BUDGET = 15.0  # seconds a process may spend on its calls
MAX_FAILURES = 25  # a process stops after this many wrong replies or errors
CHILD_GRACE = 20.0  # seconds the parent waits for the child's report once its own calls are done
CHILD_ALARM = 60  # seconds after which a child that is still alive is killed by its own alarm
SLOW = 0.5  # seconds the in-flight call of the mid-call test waits for its reply
HOLD = 0.2  # seconds the mid-call test's warm-up calls wait, so that they overlap
SAMPLES = 5  # problems kept per process, for the failure message
WEB_REQUESTS = 300
WEB_THREADS = 12
WORKERS = 3


# -- the server side: echo what identifies each request, note the connection that carried it ------


def vector_for(tag: str) -> list[float]:
    """The vector the server answers for input ``tag`` (``side-pid-i-k``): its numbers, exact in float32."""
    numbers = [float(part) for part in tag.split("-")[1:] if part.isdigit()]
    return numbers or [0.0]


class EchoLedger:
    """Answers each chat request with ``echo:<prompt>`` (body and ``x-request-id: req-<prompt>``) and
    each embedding input with :func:`vector_for`; notes which connection carried each tag.

    ``ThreadingHTTPServer`` serves each connection on its own thread for the connection's whole
    life, so the handling thread's (unique, numbered) name names the connection. Tags starting with
    ``slow-`` are answered after ``SLOW`` seconds (a stream: spread over ``SLOW`` seconds), chat
    requests tagged ``hold-`` after ``HOLD`` seconds.
    """

    def __init__(self, server: LoopbackServer) -> None:
        self._lock = threading.Condition()
        self.carried: list[tuple[str, str]] = []  # (connection, tag), in arrival order
        self.slow_arrived = 0
        server.respond_with(self._respond)

    def wait_for_slow(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until ``count`` slow requests have arrived (their replies are not sent yet)."""
        with self._lock:
            return self._lock.wait_for(lambda: self.slow_arrived >= count, timeout)

    def by_connection(self) -> dict[str, list[str]]:
        with self._lock:
            carried = list(self.carried)
        connections: dict[str, list[str]] = {}
        for connection, tag in carried:
            connections.setdefault(connection, []).append(tag)
        return connections

    def tags(self) -> list[str]:
        with self._lock:
            return [tag for _, tag in self.carried]

    def _note(self, tags: list[str]) -> bool:
        connection = threading.current_thread().name
        slow = any(tag.startswith("slow-") for tag in tags)
        with self._lock:
            self.carried.extend((connection, tag) for tag in tags)
            if slow:
                self.slow_arrived += 1
                self._lock.notify_all()
        return slow

    def _respond(self, _index: int, req: RecordedRequest) -> Reply | None:
        body = req.body if isinstance(req.body, dict) else {}
        azure = req.shape != "openai"
        model = str(body.get("model") or req.deployment or "")
        if req.op == "chat/completions":
            tag = _prompt_of(body)
            slow = self._note([tag])
            headers = {"x-request-id": f"req-{tag}"}
            if body.get("stream"):
                events = chat_chunks(("echo:", tag), model=model, azure=azure)
                return Reply(events=events, headers=headers, event_delay=SLOW / len(events) if slow else 0.0)
            content = chat_completion(f"echo:{tag}", model=model, azure=azure)
            delay = SLOW if slow else HOLD if tag.startswith("hold-") else 0.0
            return Reply(body=content, headers=headers, delay=delay)
        if req.op == "embeddings":
            inputs = [str(text) for text in body.get("input") or ()]
            slow = self._note(inputs)
            vectors = [vector_for(tag) for tag in inputs]
            as_base64 = body.get("encoding_format") == "base64"
            headers = {"x-request-id": f"req-{inputs[0] if inputs else ''}"}
            return Reply(
                body=embedding_list(vectors, as_base64=as_base64),
                headers=headers,
                delay=SLOW if slow else 0.0,
            )
        return None  # the loopback's default reply


def _prompt_of(body: dict[str, Any]) -> str:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict):
        return "?"
    content = messages[-1].get("content")
    if isinstance(content, list):  # content parts
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content)


def _pid_of(tag: str) -> str:
    parts = tag.split("-")
    return parts[1] if len(parts) > 2 else "?"


def shared_connections(connections: dict[str, list[str]]) -> int:
    """How many connections carried the requests of more than one process (tags name the pid)."""
    return sum(len({_pid_of(tag) for tag in tags}) > 1 for tags in connections.values())


# -- the client side: calls that say whether each reply was to this request -----------------------


@dataclass
class Tally:
    """What one process saw: calls made, replies to its own request, replies to another, errors."""

    side: str
    pid: int
    calls: int = 0
    ok: int = 0
    crossed: int = 0
    errors: int = 0
    error_types: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failures(self) -> int:
        return self.crossed + self.errors

    def clean(self, calls: int) -> bool:
        return (self.calls, self.ok, self.crossed, self.errors) == (calls, calls, 0, 0)

    def line(self) -> str:
        types = f" {self.error_types}" if self.error_types else ""
        return (
            f"{self.side} (pid {self.pid}): {self.calls} calls, {self.ok} own replies, "
            f"{self.crossed} crossed, {self.errors} errors{types}, {self.seconds:.2f} s"
        )


def one_call(client: Client, kind: str, tag: str) -> tuple[object, object]:
    """Make one call tagged ``tag``; return (what came back, what its own reply is)."""
    if kind == "chat":
        reply = client.chat(tag)
        return (reply.text, reply.request_id), (f"echo:{tag}", f"req-{tag}")
    if kind == "stream":
        chunks = list(client.stream(tag))
        text = "".join(chunk.text for chunk in chunks)
        return (text, chunks[-1].request_id if chunks else None), (f"echo:{tag}", f"req-{tag}")
    inputs = [f"{tag}-{k}" for k in range(EMBED_INPUTS)]
    vectors = client.embed(inputs).vectors
    return [list(vector) for vector in vectors], [vector_for(text) for text in inputs]


def run_calls(client: Client, kind: str, side: str, calls: int) -> Tally:
    """Make up to ``calls`` calls tagged ``side-<pid>-<i>`` (bounded by LOOP_BUDGET and MAX_FAILURES)."""
    tally = Tally(side, os.getpid())
    started = time.monotonic()
    for i in range(calls):
        if tally.failures >= MAX_FAILURES or time.monotonic() - started > LOOP_BUDGET:
            break
        tag = f"{side}-{tally.pid}-{i}"
        tally.calls += 1
        try:
            got, want = one_call(client, kind, tag)
        except Exception as exc:
            tally.errors += 1
            name = type(exc).__name__
            tally.error_types[name] = tally.error_types.get(name, 0) + 1
            problem = f"{tag}: {name}: {exc}"
        else:
            if got == want:
                tally.ok += 1
                continue
            tally.crossed += 1
            problem = f"{tag}: got {got!r}"
        if len(tally.samples) < SAMPLES:
            tally.samples.append(problem[:300])
    tally.seconds = time.monotonic() - started
    return tally


# -- the fork: both sides at once, the child always ends, the parent always reaps it ---------------


def run_forked(
    parent_work: Callable[[], Any], child_work: Callable[[], Any], *, grace: float = CHILD_GRACE
) -> tuple[Any, Any]:
    """Fork; run ``child_work`` in the child while ``parent_work`` runs here; return both results.

    A barrier makes both start at once: the child says it is ready, the parent says go. The
    child's result travels back as JSON through a pipe. A child that raised, hung or died comes
    back as ``{"problem": "..."}``: the parent waits ``grace`` seconds after its own work for the
    report, then kills the child; the child's own alarm kills it after CHILD_ALARM seconds anyway.
    """
    report_r, report_w = os.pipe()  # child to parent: b"r" (ready), then its result as JSON
    go_r, go_w = os.pipe()  # parent to child: b"g"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+: forking with threads running
        pid = os.fork()
    if pid == 0:
        _child(child_work, report_w, go_r, (report_r, go_w))
    os.close(report_w)
    os.close(go_r)
    child: Any = {"problem": "the parent failed before it read the child's report"}
    try:
        try:
            ready, _, _ = select.select([report_r], [], [], 10)
            if ready:
                os.read(report_r, 1)  # b"r"; a child that failed first sends it too, then its problem
            os.write(go_w, b"g")
        finally:
            os.close(go_w)
        parent = parent_work()
        child = _read_report(report_r, grace)
    finally:
        os.close(report_r)
        # A child without a report is stuck (or already gone): do not wait long before killing it.
        status = _reap(pid, timeout=0.5 if "problem" in child else 5.0)
    if "problem" in child and status:
        child["problem"] += f" ({status})"
    return parent, child


def _child(work: Callable[[], Any], report_w: int, go_r: int, parents: tuple[int, int]) -> NoReturn:
    code, said_ready = 1, False
    try:
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(CHILD_ALARM)
        for fd in parents:
            os.close(fd)
        # What the parent's objects do when collected here (the SDK client closes itself on
        # collection), let it happen now, while the parent still holds its connections.
        gc.collect()
        os.write(report_w, b"r")
        said_ready = True
        go, _, _ = select.select([go_r], [], [], 10)
        if not go:
            raise TimeoutError("the parent never said go")
        payload = json.dumps(work())
        code = 0
    except BaseException as exc:
        payload = json.dumps({"problem": f"the child raised {type(exc).__name__}: {exc}"[:500]})
    try:
        data = (b"" if said_ready else b"r") + payload.encode()
        while data:
            data = data[os.write(report_w, data) :]
    finally:
        os._exit(code)


def _read_report(fd: int, timeout: float) -> Any:
    chunks: list[bytes] = []
    ends = time.monotonic() + timeout
    while True:
        left = ends - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(left, 0))
        if not ready:
            return {"problem": f"the child did not report within {timeout:g} s of the parent's end"}
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except ValueError:
        return {"problem": "the child ended without a report"}


def _reap(pid: int, timeout: float = 5.0) -> str:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return _status(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)  # our own child, by its pid
    _, status = os.waitpid(pid, 0)
    return f"killed by the test; {_status(status)}"


def _status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"ended by signal {os.WTERMSIG(status)}"
    return f"exit status {os.WEXITSTATUS(status)}" if os.WEXITSTATUS(status) else ""


# -- scenario 1: parent and child call at once after a pre-fork call ------------------------------


@dataclass
class ForkFigures:
    provider: str
    kind: str
    parent: Tally
    child: Tally | None
    problem: str | None
    #: Tags (one per chat or stream request, one per embedding input) the server saw, per side.
    at_server: dict[str, int]
    #: Connections that carried each process's requests, and those that carried two processes'.
    connections: dict[str, int]
    shared_connections: int
    child_on_warm_up_connection: bool

    def line(self) -> str:
        child = self.child.line() if self.child else f"child: {self.problem}"
        return (
            f"{self.provider} {self.kind}: {self.parent.line()}; {child}; server saw {self.at_server}; "
            f"connections {self.connections}, shared {self.shared_connections}, child on the "
            f"warm-up connection: {self.child_on_warm_up_connection}"
        )


def raw_fork(provider: str, kind: str, calls: int) -> ForkFigures:
    """Warm up, fork, and let parent and child each make ``calls`` calls of ``kind`` at once."""
    with LoopbackServer() as server:
        ledger = EchoLedger(server)
        client = build_client(settings_for(server, provider, **CALL_OPTIONS))
        try:
            # The warm-up: one call of the kind under test (for embed, the batch pool now has threads),
            # then a chat call, which leaves its keep-alive connection in the pool (a stream does
            # not: its connection is closed when it ends).
            for warm_up_kind in dict.fromkeys((kind, "chat")):
                got, want = one_call(client, warm_up_kind, f"warmup-{os.getpid()}-0")
                assert got == want, f"the warm-up call got {got!r}"
            parent, child = run_forked(
                lambda: run_calls(client, kind, "parent", calls),
                lambda: asdict(run_calls(client, kind, "child", calls)),
            )
        finally:
            client.close()
        connections = ledger.by_connection()
    child_tally = None if "problem" in child else Tally(**child)
    pids = {str(parent.pid): "parent"}
    if child_tally is not None:
        pids[str(child_tally.pid)] = "child"
    processes = {name: {pids.get(_pid_of(tag), "?") for tag in tags} for name, tags in connections.items()}
    warm_up = {name for name, tags in connections.items() if any(t.startswith("warmup-") for t in tags)}
    at_server = Counter(tag.split("-")[0] for tags in connections.values() for tag in tags)
    return ForkFigures(
        provider=provider,
        kind=kind,
        parent=parent,
        child=child_tally,
        problem=child.get("problem"),
        at_server=dict(sorted(at_server.items())),
        connections={
            side: sum(side in carried for carried in processes.values()) for side in ("parent", "child")
        },
        shared_connections=shared_connections(connections),
        child_on_warm_up_connection=any("child" in processes[name] for name in warm_up),
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_parent_and_child_each_get_only_their_own_replies_after_a_fork(provider: str, kind: str) -> None:
    calls = CALLS[kind]
    figures = raw_fork(provider, kind, calls)
    assert figures.problem is None
    assert figures.child is not None
    assert figures.parent.clean(calls), (figures.parent.line(), figures.parent.samples)
    assert figures.child.clean(calls), (figures.child.line(), figures.child.samples)
    # None lost or doubled: each process's requests reached the server once each.
    per_call = EMBED_INPUTS if kind == "embed" else 1
    warm_ups = per_call + (kind != "chat")
    assert figures.at_server == {"child": calls * per_call, "parent": calls * per_call, "warmup": warm_ups}
    # The child opened its own connections; none carried both processes' requests.
    assert figures.shared_connections == 0
    assert figures.connections["child"] >= 1
    assert not figures.child_on_warm_up_connection
    assert figures.child.pid != figures.parent.pid


# -- scenario 2: the fork happens while another parent thread is mid-call -------------------------


class HeldCredential:
    """A credential whose first fetch once ``hold`` is set waits for ``release``: the in-flight call
    of the ``token`` case holds the token cache's fetch lock when the process forks.

    Until ``hold`` is set its tokens live 0.2 s, so that the next call refreshes; after, an hour.
    """

    def __init__(self, token: str) -> None:
        self._token = token
        self._lock = threading.Lock()
        self.hold = threading.Event()
        self.entered = threading.Event()
        self.release = threading.Event()

    def get_token(self, *scopes: str, claims: str | None = None) -> AccessToken:
        with self._lock:
            held = self.hold.is_set() and not self.entered.is_set()
            if held:
                self.entered.set()
        if held:
            self.release.wait(10)
        return AccessToken(self._token, time.time() + (3600 if self.hold.is_set() else 0.2))


#: What the parent thread is doing when the process forks.
INFLIGHT = ("chat", "stream", "embed", "token")
CHILD_CALLS = {"chat": 20, "stream": 5, "embed": 5}  # what the child then does, each kind in turn
PARENT_CALLS_AFTER = 20


@dataclass
class MidCallFigures:
    inflight: str
    #: The parent thread's call that was in flight at the fork: its own reply, or what went wrong.
    inflight_outcome: str
    parent_after: Tally
    child: dict[str, Tally]
    child_seconds: float | None
    problem: str | None
    #: Connections that carried both processes' requests.
    shared_connections: int

    def line(self) -> str:
        child = (
            "; ".join(f"{kind}: {tally.line()}" for kind, tally in self.child.items())
            if self.child
            else f"child: {self.problem}"
        )
        seconds = f" in {self.child_seconds:.2f} s" if self.child_seconds is not None else ""
        return (
            f"fork while another thread is mid-{self.inflight}: that call {self.inflight_outcome}; "
            f"after it {self.parent_after.line()}; child{seconds}: {child}; "
            f"shared connections {self.shared_connections}"
        )


def _mid_call_client(server: LoopbackServer, credential: HeldCredential | None) -> Client:
    if credential is None:
        return build_client(settings_for(server, "azure", **CALL_OPTIONS))
    settings = settings_for(server, "azure", auth="entra", **CALL_OPTIONS)
    container = Container(settings=settings)
    container.credential.override(providers.Object(credential))
    return build_client(settings, container)


def mid_call_fork(inflight: str) -> MidCallFigures:
    """Fork while a parent thread waits on a slow reply (or a token), then let the child call."""
    with LoopbackServer() as server:
        ledger = EchoLedger(server)
        credential = HeldCredential(server.token) if inflight == "token" else None
        client = _mid_call_client(server, credential)
        outcome: dict[str, str] = {}
        first_chunk = threading.Event()
        kind = "chat" if inflight == "token" else inflight
        tag = f"slow-{os.getpid()}-0"

        def in_flight() -> None:
            try:
                if kind == "stream":
                    chunks = []
                    for chunk in client.stream(tag):
                        chunks.append(chunk)
                        first_chunk.set()
                    got: object = ("".join(c.text for c in chunks), chunks[-1].request_id)
                    want: object = (f"echo:{tag}", f"req-{tag}")
                else:
                    got, want = one_call(client, kind, tag)
                outcome["result"] = "got its own reply" if got == want else f"got another reply: {got!r}"
            except Exception as exc:
                outcome["result"] = f"failed: {type(exc).__name__}: {exc}"

        thread = threading.Thread(target=in_flight, daemon=True)
        try:
            # The warm-up: three calls at once, so that the pool keeps three idle connections; the
            # in-flight call takes one or two, the others are there for a child to wrongly reuse.
            with ThreadPoolExecutor(3) as pool:
                list(pool.map(lambda j: one_call(client, "chat", f"hold-{os.getpid()}-{j}"), range(3)))
            assert len(ledger.by_connection()) == 3, "the warm-up calls did not overlap"
            if credential is not None:
                time.sleep(0.3)  # the warm-up's short-lived token is now due for refresh
                credential.hold.set()
            thread.start()
            arrived = {
                "chat": lambda: ledger.wait_for_slow(1),
                "stream": lambda: first_chunk.wait(10),
                "embed": lambda: ledger.wait_for_slow(EMBED_INPUTS),  # both pool threads are waiting
                "token": lambda: credential is not None and credential.entered.wait(10),
            }[inflight]()
            assert arrived, f"the {inflight} call never got under way"

            def parent() -> Tally:
                if credential is not None:
                    credential.release.set()
                thread.join(SLOW + 10)
                return run_calls(client, "chat", "parent", PARENT_CALLS_AFTER)

            def child() -> dict[str, Any]:
                started = time.monotonic()
                tallies = {k: asdict(run_calls(client, k, "child", n)) for k, n in CHILD_CALLS.items()}
                return {"tallies": tallies, "seconds": time.monotonic() - started}

            parent_after, child_report = run_forked(parent, child, grace=10.0)
        finally:
            if credential is not None:
                credential.release.set()
            thread.join(SLOW + 10)
            client.close()
        connections = ledger.by_connection()
    tallies = child_report.get("tallies", {})
    return MidCallFigures(
        inflight=inflight,
        inflight_outcome=outcome.get("result", "did not end"),
        parent_after=parent_after,
        child={k: Tally(**t) for k, t in tallies.items()},
        child_seconds=child_report.get("seconds"),
        problem=child_report.get("problem"),
        shared_connections=shared_connections(connections),
    )


@pytest.mark.parametrize("inflight", INFLIGHT)
def test_a_fork_during_a_call_in_another_thread_leaves_both_processes_working(inflight: str) -> None:
    figures = mid_call_fork(inflight)
    assert figures.problem is None  # above all: the child did not hang on a lock held at the fork
    assert figures.inflight_outcome == "got its own reply"
    assert figures.parent_after.clean(PARENT_CALLS_AFTER), figures.parent_after.samples
    assert set(figures.child) == set(CHILD_CALLS)
    for kind, tally in figures.child.items():
        assert tally.clean(CHILD_CALLS[kind]), (tally.line(), tally.samples)
    assert figures.shared_connections == 0  # nor did the child use the parent's idle connection


# -- scenario 2b: the fork happens while another parent thread is building a client --------------

BUILD_GRACE = 3.0  # seconds: a child builds a client and calls in well under one


class ChildHung(AssertionError):
    """The child did not report in time: it is stuck on a lock that a parent thread held at the fork."""


def build_during_fork() -> tuple[str, dict[str, Any]]:
    """Fork while a parent thread is inside ``build_client``; the child then builds its own client.

    The parent thread is held inside the construction of one of the container's singletons (the
    wall clock given to the token cache is a factory that waits), where a slow import or a
    credential doing I/O in its constructor would keep it. Returns what the parent's build gave,
    and the child's report.
    """
    with LoopbackServer() as server:
        EchoLedger(server)
        entered, release = threading.Event(), threading.Event()

        def slow_clock() -> Callable[[], float]:
            entered.set()
            release.wait(10)
            return time.time

        settings = settings_for(server, "azure", **CALL_OPTIONS)
        container = Container(settings=settings)
        container.wall_clock.override(providers.Callable(slow_clock))
        built: dict[str, Client] = {}
        thread = threading.Thread(
            target=lambda: built.setdefault("client", build_client(settings, container)), daemon=True
        )
        thread.start()
        try:
            assert entered.wait(10), "the build never got under way"

            def parent() -> str:
                release.set()
                thread.join(10)
                if "client" not in built:
                    return "its build did not end"
                got, want = one_call(built["client"], "chat", f"parent-{os.getpid()}-0")
                return "its client works" if got == want else f"its client got {got!r}"

            def child() -> dict[str, Any]:
                with build_client(settings_for(server, "azure", **CALL_OPTIONS)) as client:
                    return {"tally": asdict(run_calls(client, "chat", "child", 5))}

            outcome, report = run_forked(parent, child, grace=BUILD_GRACE)
        finally:
            release.set()
            thread.join(10)
            if "client" in built:
                built["client"].close()
    return outcome, report


def test_a_fork_while_another_thread_builds_a_client_leaves_the_child_able_to_build_one() -> None:
    outcome, report = build_during_fork()
    assert outcome == "its client works"
    if "problem" in report:
        raise ChildHung(report["problem"])
    assert Tally(**report["tally"]).clean(5), report


# -- scenario 3: the Flask example under gunicorn --preload ---------------------------------------


@dataclass
class WebFigures:
    requests: int
    ok: int = 0
    crossed: int = 0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    #: Requests served per worker pid.
    workers: dict[int, int] = field(default_factory=dict)
    master: int | None = None
    samples: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: Connections at the loopback: how many, how many carried two processes' requests, and how
    #: many worker requests came on the master's warm-up connection.
    connections: int = 0
    shared_connections: int = 0
    workers_on_master_connection: int = 0

    def line(self) -> str:
        return (
            f"gunicorn --preload -w {WORKERS}: {self.requests} POST /chat on {WEB_THREADS} threads, "
            f"{self.ok} own replies, {self.crossed} crossed, {self.errors} errors (statuses "
            f"{self.statuses}), workers seen {len(self.workers)} {sorted(self.workers.values())}, "
            f"{self.seconds:.2f} s; loopback connections {self.connections}, shared "
            f"{self.shared_connections}, worker requests on the master's warm-up connection "
            f"{self.workers_on_master_connection}"
        )


class _Log:
    """Collects gunicorn's log lines from its stderr, on a thread of its own."""

    def __init__(self, stream: Any) -> None:
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            with self._changed:
                self._lines.append(line.rstrip())
                self._changed.notify_all()
        with self._changed:
            self._lines.append("<eof>")
            self._changed.notify_all()

    @property
    def text(self) -> str:
        with self._changed:
            return "\n".join(self._lines)

    def wait_ready(self, workers: int, timeout: float) -> int:
        """Return the port once the master listens and ``workers`` workers are booting."""

        def port() -> int | None:
            found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", "\n".join(self._lines))
            booted = sum("Booting worker" in line for line in self._lines)
            return int(found[1]) if found and booted >= workers else None

        with self._changed:
            ready = self._changed.wait_for(lambda: port() is not None or "<eof>" in self._lines, timeout)
            listening = port()
        if not ready or listening is None:
            raise AssertionError(f"gunicorn did not start {workers} workers:\n{self.text}")
        return listening

    def join(self) -> None:
        self._thread.join(5)


@contextlib.contextmanager
def gunicorn(server: LoopbackServer, workers: int) -> Iterator[tuple[int, _Log]]:
    """Serve fork_app (the Flask example) with ``gunicorn --preload``; always stopped at the end."""
    import gunicorn.config  # type: ignore[import-untyped, unused-ignore]

    env = dict(os.environ)
    # fork_app is in this folder and imports examples/flask_app.py: neither is a package.
    examples = HERE.parents[1] / "examples"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), str(examples), env.get("PYTHONPATH")) if p)
    env["LLMPORT_FORK_TEST_URL"] = server.url
    env["LLMPORT_FORK_TEST_KEY"] = server.api_key
    args = [
        sys.executable, "-m", "gunicorn", "--preload", "--workers", str(workers),
        "--bind", "127.0.0.1:0", "--chdir", str(HERE), "--log-level", "info",
        "--graceful-timeout", "3", "--timeout", "30",
    ]  # fmt: skip
    if any(setting.name == "control_socket_disable" for setting in gunicorn.config.KNOWN_SETTINGS):
        args.append("--no-control-socket")  # gunicorn >= 25 would make ~/.gunicorn/gunicorn.ctl
    args.append("fork_app:app")
    proc = subprocess.Popen(
        args,
        cwd=HERE,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the master and its workers
    )
    log = _Log(proc.stderr)
    try:
        yield log.wait_ready(workers, timeout=30), log
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the group this test started, master and workers
                proc.wait(timeout=5)
        log.join()
        if proc.stderr is not None:
            proc.stderr.close()


def _post_chat(port: int, prompt: str) -> tuple[int | None, int | None, str]:
    """POST /chat; return (status, worker pid, the reply's text or what went wrong)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/chat", json.dumps({"prompt": prompt}), {"content-type": "application/json"})
        response = conn.getresponse()
        body = response.read()
        worker = response.getheader("X-Worker-Pid")
        try:
            text = str(json.loads(body).get("text"))
        except (ValueError, AttributeError):
            text = body[:200].decode("utf-8", "replace")
        return response.status, int(worker) if worker else None, text
    except (OSError, http.client.HTTPException) as exc:
        return None, None, f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()


def gunicorn_run(requests: int = WEB_REQUESTS, threads: int = WEB_THREADS) -> WebFigures:
    """POST ``requests`` distinct prompts to the Flask example under gunicorn --preload."""
    figures = WebFigures(requests)
    with LoopbackServer() as server:
        ledger = EchoLedger(server)
        with gunicorn(server, WORKERS) as (port, log):
            started = time.monotonic()
            with ThreadPoolExecutor(threads) as pool:
                futures = [pool.submit(_post_chat, port, f"web-{i}") for i in range(requests)]
                results = [future.result(timeout=60) for future in futures]
            figures.seconds = time.monotonic() - started
        warm_ups = [tag for tag in ledger.tags() if tag.startswith("warmup-")]
        figures.master = int(_pid_of(warm_ups[0])) if warm_ups else None
        connections = ledger.by_connection()
    statuses: Counter[int] = Counter()
    workers: Counter[int] = Counter()
    served_by: dict[str, int] = {}
    for i, (status, worker, text) in enumerate(results):
        prompt = f"web-{i}"
        statuses[status or 0] += 1
        if worker is not None:
            workers[worker] += 1
            served_by[prompt] = worker
        if status != 200:
            figures.errors += 1
            problem = f"{prompt}: HTTP {status}: {text}"
        elif text == f"echo:{prompt}":
            figures.ok += 1
            continue
        else:
            figures.crossed += 1
            problem = f"{prompt}: got {text!r}"
        if len(figures.samples) < SAMPLES:
            figures.samples.append(problem[:300])
    figures.statuses = dict(statuses)
    figures.workers = dict(workers)
    processes = {
        name: {figures.master if tag.startswith("warmup-") else served_by.get(tag) for tag in tags}
        for name, tags in connections.items()
    }
    figures.connections = len(connections)
    figures.shared_connections = sum(len(carried) > 1 for carried in processes.values())
    figures.workers_on_master_connection = sum(
        sum(not tag.startswith("warmup-") for tag in tags)
        for tags in connections.values()
        if any(tag.startswith("warmup-") for tag in tags)
    )
    if figures.master is None:
        figures.samples.append(f"no warm-up call reached the server; gunicorn said:\n{log.text}")
    return figures


def test_gunicorn_preload_workers_each_get_only_their_own_replies() -> None:
    figures = gunicorn_run()
    assert figures.master is not None, figures.samples
    assert (figures.ok, figures.crossed, figures.errors) == (WEB_REQUESTS, 0, 0), (
        figures.line(),
        figures.samples,
    )
    assert len(figures.workers) >= 2, figures.workers  # the requests really were shared out
    assert figures.master not in figures.workers
    assert figures.shared_connections == 0
    assert figures.workers_on_master_connection == 0


# -- the figures, for docs/reliability.md -----------------------------------------------------------


def main() -> None:
    print(f"- pid {os.getpid()}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    for provider in PROVIDERS:
        for kind in KINDS:
            print(f"- {raw_fork(provider, kind, CALLS[kind]).line()}")
    for inflight in INFLIGHT:
        print(f"- {mid_call_fork(inflight).line()}")
    outcome, report = build_during_fork()
    child = report.get("problem") or Tally(**report["tally"]).line()
    print(f"- fork during another thread's build_client: the parent's build: {outcome}; child: {child}")
    print(f"- {gunicorn_run().line()}")


if __name__ == "__main__":
    main()
