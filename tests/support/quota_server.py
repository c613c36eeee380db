"""A quota-enforcing OpenAI / Azure OpenAI server on 127.0.0.1: one instance per deployment.

Each instance holds one deployment's requests-per-minute and tokens-per-minute limits over an
exact sliding 60 s window (a log of accepted requests), as a provider would referee them. A
request is charged its prompt estimate (characters / 4, plus 3 per message) and its
``max_tokens`` (``max_completion_tokens``; ``default_max_tokens`` when absent), or, with
``charge="usage"``, the usage its reply reports. Over a limit it answers 429 with Azure's headers:
``Retry-After`` (whole seconds), ``retry-after-ms``, ``x-ratelimit-remaining-requests|tokens`` and
``x-ratelimit-reset-requests|tokens`` (whole seconds); every accepted reply carries the remaining
and reset headers too. ``go_down()`` closes the port (connection refused), ``come_back()`` opens
it again. Replies are the loopback's defaults (chat completions, streams, embeddings).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from loopback import Listener, RecordedRequest, Reply
from wire_samples import azure_error, default_reply, openai_error

__all__ = ["QuotaServer", "QuotaStats"]

WINDOW = 60.0


@dataclass(frozen=True)
class QuotaStats:
    """What the server saw: requests (429s included), accepted ones and their tokens, 429s."""

    requests: int
    accepted: int
    accepted_tokens: int
    throttled: int


class QuotaServer:
    """``with QuotaServer("ptu", rpm=60, tpm=10_000) as server:``; ``server.url`` as the endpoint.

    Args:
        deployment: the Azure deployment name (the classic URL's path) this server serves.
        rpm, tpm: the limits over a sliding minute; None for none.
        api_key: the key every shape accepts (``api-key`` header or ``Authorization: Bearer``).
        charge: ``"estimate"`` (prompt estimate + max_tokens, as Azure does) or ``"usage"``.
        default_max_tokens: what a chat request without max_tokens is charged for its completion.
        clock: seconds, monotonic; tests can move it.
    """

    def __init__(
        self,
        deployment: str = "gpt-4o-mini",
        *,
        rpm: int | None = None,
        tpm: int | None = None,
        api_key: str = "test-key",
        charge: str = "estimate",
        default_max_tokens: int = 16,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.deployment, self.rpm, self.tpm, self.api_key = deployment, rpm, tpm, api_key
        self.charge, self.default_max_tokens, self.clock = charge, default_max_tokens, clock
        self._log: deque[tuple[float, int]] = deque()  # (accepted at, tokens charged)
        self._stats = QuotaStats(0, 0, 0, 0)
        self._lock = threading.Lock()
        self._listener: Listener | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stats(self) -> QuotaStats:
        with self._lock:
            return self._stats

    def start(self) -> QuotaServer:
        """Listen (on the same port again after ``go_down()``)."""
        listener = Listener(self._respond, port=self.port)
        self.port = listener.port
        self._listener = listener.start()
        return self

    def close(self) -> None:
        """Stop listening and drop every open connection: new connections are refused."""
        if self._listener is None:
            return
        self._listener.close()
        self._listener = None

    go_down = close
    come_back = start

    def __enter__(self) -> QuotaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- request handling (server threads) ------------------------------------------------

    def _respond(self, req: RecordedRequest) -> Reply:
        return self._refusal(req) or self._admit(req)

    def _refusal(self, req: RecordedRequest) -> Reply | None:
        bearer = req.headers.get("authorization", "").removeprefix("Bearer ")
        if self.api_key not in (req.headers.get("api-key"), bearer):
            return Reply(401, azure_error("401", "Access denied due to invalid subscription key."))
        if req.shape == "azure" and req.deployment not in (None, self.deployment):
            message = "The API deployment for this resource does not exist."
            return Reply(404, azure_error("DeploymentNotFound", message))
        return None

    def _admit(self, req: RecordedRequest) -> Reply:
        reply = default_reply(req)
        if self.charge == "estimate":
            reply = _counted(req, reply)
        cost = self._cost(req, reply)
        with self._lock:
            now = self.clock()
            while self._log and self._log[0][0] <= now - WINDOW:
                self._log.popleft()
            wait_r = self._wait(lambda entry: 1, 1, self.rpm, now)
            wait_t = self._wait(lambda entry: entry[1], cost, self.tpm, now)
            stats = self._stats
            if wait_r > 0 or wait_t > 0:
                self._stats = replace(stats, requests=stats.requests + 1, throttled=stats.throttled + 1)
                headers = self._headers(now)
                return _throttled(req, max(wait_r, wait_t), "token" if wait_t >= wait_r else "call", headers)
            self._log.append((now, cost))
            self._stats = QuotaStats(
                stats.requests + 1, stats.accepted + 1, stats.accepted_tokens + cost, stats.throttled
            )
            headers = self._headers(now)
        return replace(reply, headers={**reply.headers, **headers})

    def _cost(self, req: RecordedRequest, reply: Reply) -> int:
        body = req.body if isinstance(req.body, dict) else {}
        if self.charge == "usage" and isinstance(reply.body, dict):
            return int(reply.body.get("usage", {}).get("total_tokens", 0))
        if req.op == "embeddings":
            inputs = body.get("input") or []
            texts = [inputs] if isinstance(inputs, str) else inputs
            return sum(math.ceil(len(str(text)) / 4) for text in texts)
        prompt = _prompt_tokens(req)
        completion = body.get("max_tokens") or body.get("max_completion_tokens") or self.default_max_tokens
        return int(prompt + completion)

    def _wait(
        self, weight: Callable[[tuple[float, int]], int], need: int, limit: int | None, now: float
    ) -> float:
        """Seconds until ``need`` fits under ``limit`` as accepted requests leave the window."""
        if limit is None:
            return 0.0
        if need > limit:
            return WINDOW
        excess = sum(weight(entry) for entry in self._log) + need - limit
        for entry in self._log:
            if excess <= 0:
                break
            excess -= weight(entry)
            if excess <= 0:
                return entry[0] + WINDOW - now
        return 0.0

    def _headers(self, now: float) -> dict[str, str]:
        headers: dict[str, str] = {}
        oldest = self._log[0][0] + WINDOW - now if self._log else 0.0
        for kind, limit, used in (
            ("requests", self.rpm, len(self._log)),
            ("tokens", self.tpm, sum(tokens for _, tokens in self._log)),
        ):
            if limit is not None:
                headers[f"x-ratelimit-remaining-{kind}"] = str(max(limit - used, 0))
                headers[f"x-ratelimit-reset-{kind}"] = str(math.ceil(oldest))
        return headers


def _prompt_tokens(req: RecordedRequest) -> int:
    body = req.body if isinstance(req.body, dict) else {}
    messages = body.get("messages") or []
    return sum(3 + math.ceil(len(json.dumps(m.get("content", ""))) / 4) for m in messages)


def _counted(req: RecordedRequest, reply: Reply) -> Reply:
    """A chat reply whose usage reports the prompt as this server counts it, as a provider's does."""
    if req.op == "embeddings" or not isinstance(reply.body, dict) or "usage" not in reply.body:
        return reply
    usage = dict(reply.body["usage"])
    prompt = _prompt_tokens(req)
    usage["total_tokens"] = prompt + int(usage.get("completion_tokens", 0))
    usage["prompt_tokens"] = prompt
    return replace(reply, body={**reply.body, "usage": usage})


def _throttled(req: RecordedRequest, wait: float, limit: str, headers: dict[str, str]) -> Reply:
    seconds = max(math.ceil(wait), 1)
    headers = {**headers, "retry-after": str(seconds), "retry-after-ms": str(math.ceil(wait * 1000))}
    operation = "Embeddings_Create" if req.op == "embeddings" else "ChatCompletions_Create"
    message = (
        f"Requests to the {operation} Operation under Azure OpenAI API version 2024-10-21 have "
        f"exceeded {limit} rate limit of your current OpenAI S0 pricing tier. "
        f"Please retry after {seconds} seconds."
    )
    if req.shape == "openai":
        body = openai_error(message, code="rate_limit_exceeded", type=limit + "s")
        return Reply(429, body, headers=headers)
    return Reply(429, azure_error("429", message), headers=headers)
