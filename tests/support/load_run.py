"""Many threads, one Client, a seeded mix of 429s and 503s: every call and every request accounted for."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from harness import TokenLedger, WallClock, client_sockets, wire
from loopback import LoopbackServer, RecordedRequest, Reply
from structlog.testing import capture_logs
from wire_samples import azure_error

from llmport import Client, LLMPortError
from llmport.adapters.fakes import FakeCredential

JOIN_TIMEOUT = 120.0  # seconds for all workers together; a deadlock fails the run instead of hanging it
MAX_ATTEMPTS = 3  # the default policy: max_retries 2


@dataclass
class LoadFigures:
    """What a load run measured; ``problems`` lists every broken promise (empty when all held)."""

    calls: int
    threads: int
    outcomes: Counter[str] = field(default_factory=Counter)  # ok, or the domain error's class name
    requests_at_server: int = 0
    replies: Counter[int] = field(default_factory=Counter)  # HTTP status -> how many the server sent
    attempts_by_call: Counter[int] = field(default_factory=Counter)  # requests per call -> how many calls
    waits: int = 0
    retries_by_error: Counter[str] = field(default_factory=Counter)  # from the llmport.retry events
    token_fetches: int = 0
    expected_token_fetches: int = 0
    tokens_seen: int = 0
    least_token_remaining: float = 0.0
    rejected_tokens: int = 0
    sockets_before: int = 0
    sockets_peak: int = 0
    sockets_after_close: int = 0
    wall_seconds: float = 0.0
    stuck_threads: int = 0
    problems: list[str] = field(default_factory=list)


def fault_plan(seed: int, size: int, rate_429: float, rate_503: float) -> list[int]:
    """The status of request number i (arrival order), the same for a given seed."""
    rng = random.Random(seed)
    plan = []
    for _ in range(size):
        draw = rng.random()
        plan.append(429 if draw < rate_429 else 503 if draw < rate_429 + rate_503 else 200)
    return plan


def run_load(
    *,
    calls: int = 5_000,
    threads: int = 32,
    seed: int = 4,
    rate_429: float = 0.05,
    rate_503: float = 0.02,
    provider: str = "azure",
    token_lifetime: float = 3_600.0,
    refresh_margin: float = 300.0,
    clock_step: float = 1.0,
) -> LoadFigures:
    """Run ``calls`` calls (4 chats to 1 embedding) on ``threads`` threads sharing one Client.

    Entra ID auth through a FakeCredential behind the real TokenCache; the wall clock moves
    ``clock_step`` seconds after every call, so tokens expire during the run. Retries wait
    through an injected sleep that only counts.
    """
    figures = LoadFigures(calls=calls, threads=threads)
    plan = fault_plan(seed, calls * MAX_ATTEMPTS + 1, rate_429, rate_503)
    wall = WallClock()
    ledger = TokenLedger(FakeCredential(lifetime=token_lifetime, clock=wall), wall)
    log: list[tuple[int, str, int]] = []  # (request number, call id, status replied)
    log_lock = threading.Lock()

    def respond(index: int, request: RecordedRequest) -> Reply | None:
        status = plan[index]
        body = request.body if isinstance(request.body, dict) else {}
        with log_lock:
            log.append((index, str(body.get("user")), status))
        if status == 429:
            return Reply(429, azure_error("429", "Rate limit is exceeded."), headers={"retry-after-ms": "20"})
        if status == 503:
            return Reply(503, azure_error("ServiceUnavailable", "The service is temporarily unavailable."))
        return None

    waits = Counter[str]()
    waits_lock = threading.Lock()

    def count_wait(_seconds: float) -> None:
        with waits_lock:
            waits["waits"] += 1

    outcomes: list[str | None] = [None] * calls
    with LoopbackServer(accept_token=ledger.accept) as server:
        server.respond_with(respond)
        port = int(server.url.rsplit(":", 1)[1])
        figures.sockets_before = client_sockets(port)
        wiring = wire(
            server,
            provider,
            auth="entra",
            credential=ledger,
            sleep=count_wait,
            wall=wall,
            token_refresh_margin=refresh_margin,
        )
        client = wiring.client
        peak = _drive(client, figures=figures, outcomes=outcomes, wall=wall, clock_step=clock_step, port=port)
        figures.sockets_peak = max(peak, client_sockets(port))
        client.close()
        figures.sockets_after_close = client_sockets(port)
        figures.requests_at_server = server.count

    figures.outcomes = Counter("lost" if outcome is None else outcome for outcome in outcomes)
    figures.waits = waits["waits"]
    figures.token_fetches = ledger.calls
    figures.tokens_seen = len(ledger.expiry)
    figures.least_token_remaining = ledger.least_remaining
    figures.rejected_tokens = ledger.rejected
    last_call_time = (calls - 1) * clock_step
    figures.expected_token_fetches = 1 + int(last_call_time // (token_lifetime - refresh_margin))
    _reconcile(figures, log, outcomes)
    return figures


def _drive(
    client: Client,
    *,
    figures: LoadFigures,
    outcomes: list[str | None],
    wall: WallClock,
    clock_step: float,
    port: int,
) -> int:
    """Run the calls on the worker threads, join them within JOIN_TIMEOUT; return the peak socket count."""
    calls, threads = figures.calls, figures.threads
    peak = [0]

    def work(worker: int) -> None:
        for number in range(worker, calls, threads):
            user = f"call-{number}"
            try:
                if number % 5 == 4:
                    client.embed([f"text {number}"], user=user)
                else:
                    client.chat(f"question {number}", user=user)
                outcomes[number] = "ok"
            except LLMPortError as exc:
                outcomes[number] = type(exc).__name__
            wall.advance(clock_step)
            if number % 500 == worker:
                peak[0] = max(peak[0], client_sockets(port))

    started = time.perf_counter()
    workers = [threading.Thread(target=work, args=(n,), name=f"load-{n}") for n in range(threads)]
    with capture_logs() as events:
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + JOIN_TIMEOUT
        for worker in workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))
    figures.wall_seconds = time.perf_counter() - started
    figures.retries_by_error = Counter(
        str(event.get("error")) for event in events if event.get("event") == "llmport.retry"
    )
    figures.stuck_threads = sum(worker.is_alive() for worker in workers)
    return peak[0]


_ERROR_FOR = {429: "RateLimitedError", 503: "ServiceUnavailableError"}


def _reconcile(figures: LoadFigures, log: list[tuple[int, str, int]], outcomes: list[str | None]) -> None:
    """Check each call's requests at the server against its outcome; record what does not add up."""
    problems = figures.problems
    by_call: dict[str, list[int]] = defaultdict(list)
    for _index, user, status in sorted(log):
        by_call[user].append(status)
        figures.replies[status] += 1
    if figures.stuck_threads:
        problems.append(f"{figures.stuck_threads} threads still running after {JOIN_TIMEOUT} s")
    if len(log) + figures.rejected_tokens != figures.requests_at_server:
        problems.append(f"server saw {figures.requests_at_server} requests, responder {len(log)}")
    if figures.rejected_tokens:
        problems.append(f"{figures.rejected_tokens} requests carried an unknown or expired token")
    if sum(len(statuses) for statuses in by_call.values()) != figures.requests_at_server:
        problems.append("requests do not add up to the calls' attempts")
    unknown = set(by_call) - {f"call-{n}" for n in range(figures.calls)}
    if unknown:
        problems.append(f"requests from no call: {sorted(unknown)[:5]}")
    for number in range(figures.calls):
        statuses = by_call.get(f"call-{number}", [])
        figures.attempts_by_call[len(statuses)] += 1
        problems.extend(_check_call(number, statuses, outcomes[number]))
    if figures.outcomes["lost"]:
        problems.append(f"{figures.outcomes['lost']} calls never returned")
    if figures.token_fetches != figures.expected_token_fetches:
        problems.append(f"{figures.token_fetches} token fetches, expected {figures.expected_token_fetches}")
    if figures.sockets_before or figures.sockets_after_close:
        problems.append(f"sockets before {figures.sockets_before}, after close {figures.sockets_after_close}")


def _check_call(number: int, statuses: list[int], outcome: str | None) -> list[str]:
    """A call is whole when its requests are faults then one 200 (ok), or all faults (its error)."""
    if not statuses:
        return [f"call-{number} never reached the server"]
    if len(statuses) > MAX_ATTEMPTS or 200 in statuses[:-1]:
        # More than the budget, or a request after a success (a doubled call).
        return [f"call-{number} sent {statuses}"]
    if statuses[-1] == 200:
        return [] if outcome == "ok" else [f"call-{number} got 200 but ended {outcome}"]
    if len(statuses) < MAX_ATTEMPTS:
        return [f"call-{number} gave up after {len(statuses)} faults: {statuses}"]
    expected = _ERROR_FOR[statuses[-1]]
    return [] if outcome == expected else [f"call-{number} ended {outcome}, expected {expected}"]
