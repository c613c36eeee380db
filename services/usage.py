"""Usage accounting: a client's running token and cost totals, and each reply's estimated cost."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Mapping
from typing import TypeVar

from ..domain.replies import ChatChunk, ChatResponse, Cost, EmbeddingResponse, Usage
from ..domain.usage import FrozenMap, ModelPrice, UsageReport, UsageTotals

__all__ = ["Accounting", "Pricing", "UsageLedger"]

R = TypeVar("R", ChatResponse, EmbeddingResponse)

# A ledger row: calls, prompt, completion, total, cached, reasoning tokens, priced calls, cost,
# cache hits, priced hits, cost saved by the hits.
_CALLS, _PRICED, _COST, _HITS, _PRICED_HITS, _SAVED = 0, 6, 7, 8, 9, 10


def _row() -> list[float]:
    return [0, 0, 0, 0, 0, 0, 0, 0.0, 0, 0, 0.0]


class Pricing:
    """Which price-table entry prices a call, and at what cost.

    The rule: the model the ``deployment_models`` setting maps the deployment (the model the
    request named) to, when it maps it; otherwise the first of the model the reply names and the
    model the request named that has a price. Azure replies with the base model's name (e.g.
    ``gpt-4o-2024-08-06``) whatever the deployment is called, so only the mapping can tell a
    fine-tuned or differently priced deployment apart.

    Args:
        prices: price per model name.
        deployment_models: the model each deployment (or request model) is priced as.
    """

    __slots__ = ("_deployments", "_prices")

    def __init__(self, prices: Mapping[str, ModelPrice], deployment_models: Mapping[str, str]) -> None:
        self._prices = dict(prices)
        self._deployments = dict(deployment_models)

    def model_for(self, deployment: str, replied: str) -> tuple[str, ModelPrice | None]:
        """The model a call is counted as, and its price (None when it has none)."""
        mapped = self._deployments.get(deployment)
        if mapped is not None:
            return mapped, self._prices.get(mapped)
        for name in (replied, deployment):
            price = self._prices.get(name)
            if price is not None:
                return name, price
        return replied or deployment, None


class UsageLedger:
    """Running totals per (deployment, model); thread-safe: a lock and a few additions a call."""

    __slots__ = ("_lock", "_rows")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str], list[float]] = {}

    def record(self, deployment: str, model: str, usage: Usage | None, cost: Cost | None) -> None:
        """Add one call: its usage (None: none was reported) and its cost (None: not priced)."""
        key = (deployment, model)
        with self._lock:
            row = self._rows.get(key)
            if row is None:
                row = self._rows[key] = _row()
            row[_CALLS] += 1
            if usage is not None:
                row[1] += usage.prompt_tokens
                row[2] += usage.completion_tokens
                row[3] += usage.total_tokens
                row[4] += usage.cached_tokens
                row[5] += usage.reasoning_tokens
            if cost is not None:
                row[_PRICED] += 1
                row[_COST] += cost.total

    def record_hits(self, deployment: str, model: str, hits: int, saved: Cost | None) -> None:
        """Add ``hits`` replies or inputs served from the reply cache, and what they would have cost."""
        with self._lock:
            row = self._rows.get((deployment, model))
            if row is None:
                row = self._rows[(deployment, model)] = _row()
            row[_HITS] += hits
            if saved is not None:
                row[_PRICED_HITS] += 1
                row[_SAVED] += saved.total

    def report(self, *, reset: bool = False) -> UsageReport:
        """The totals now; with ``reset``, start again from zero in the same step (no call lost)."""
        with self._lock:
            rows = {key: list(row) for key, row in self._rows.items()}
            if reset:
                self._rows = {}
        by_model: dict[str, list[float]] = {}
        by_deployment: dict[str, list[float]] = {}
        total = _row()
        for (deployment, model), row in rows.items():
            model_sums = by_model.setdefault(model, _row())
            deployment_sums = by_deployment.setdefault(deployment, _row())
            for sums in (model_sums, deployment_sums, total):
                for index, value in enumerate(row):
                    sums[index] += value
        totals = _totals(total)
        return UsageReport(
            **{f.name: getattr(totals, f.name) for f in dataclasses.fields(UsageTotals)},
            by_model=FrozenMap({name: _totals(row) for name, row in sorted(by_model.items())}),
            by_deployment=FrozenMap({name: _totals(row) for name, row in sorted(by_deployment.items())}),
        )

    def after_fork(self) -> None:
        """In a forked child: a new lock, in case a parent thread held it; the totals stay."""
        self._lock = threading.Lock()


def _totals(row: list[float]) -> UsageTotals:
    calls, priced = int(row[_CALLS]), int(row[_PRICED])
    prompt, completion, total, cached, reasoning = (int(value) for value in row[1:6])
    return UsageTotals(
        calls,
        prompt,
        completion,
        total,
        cached,
        reasoning,
        cost=row[_COST] if priced else None,
        unpriced_calls=calls - priced,
        cache_hits=int(row[_HITS]),
        cache_saved_cost=row[_SAVED] if row[_PRICED_HITS] else None,
    )


class Accounting:
    """Records each reply a client receives in its ledger, and puts the estimated cost on it.

    Args:
        pricing: the price table, or None: then nothing is priced and no lookup is made.
    """

    __slots__ = ("ledger", "pricing")

    def __init__(self, pricing: Pricing | None = None) -> None:
        self.ledger = UsageLedger()
        self.pricing = pricing

    def reply(self, deployment: str | None, response: R, *, batch: bool = False) -> R:
        """Record a chat or embeddings reply; return it with its cost when priced.

        Args:
            deployment: the model the request named (the deployment on Azure); None: the reply's.
                A reply from a routed client names its deployment itself, which wins.
            response: the reply.
            batch: it came through the Batch API: priced at the price's ``batch`` share.
        """
        deployment = response.deployment or deployment or response.model
        if isinstance(response, ChatResponse) and response.cache_hit:
            model = response.model or deployment
            self.ledger.record_hits(deployment, model, 1, self._cost(deployment, model, response.usage))
            return response  # a hit costs nothing: no cost on it
        if isinstance(response, EmbeddingResponse) and response.cache_hits:
            self.ledger.record_hits(deployment, response.model or deployment, response.cache_hits, None)
            if response.cache_hits == len(response.vectors):
                return response  # nothing was sent
        pricing = self.pricing
        if pricing is None:
            self.ledger.record(deployment, response.model or deployment, response.usage, None)
            return response
        model, price = pricing.model_for(deployment, response.model)
        if price is None:
            cost = None
        else:
            cost = price.batch_cost(response.usage, model) if batch else price.cost(response.usage, model)
        self.ledger.record(deployment, model, response.usage, cost)
        return response if cost is None else dataclasses.replace(response, cost=cost)

    def stream(self, deployment: str | None, chunks: Iterator[ChatChunk]) -> Iterator[ChatChunk]:
        """Pass the chunks through, pricing the one with usage; record the call when the stream ends.

        A stream that finished is recorded (with no tokens when the server sent no usage); one that
        failed or that the consumer stopped early is recorded when its usage had arrived.
        """
        usage: Usage | None = None
        cost: Cost | None = None
        model = ""
        finished = hit = False
        try:
            for chunk in chunks:
                model = chunk.model or model
                deployment = chunk.deployment or deployment
                if chunk.cache_hit:
                    hit = True
                    usage = chunk.usage or usage
                    yield chunk
                    continue
                if chunk.usage is None:
                    yield chunk
                    continue
                usage = chunk.usage
                cost = self._cost(deployment or model, model, usage)
                yield chunk if cost is None else dataclasses.replace(chunk, cost=cost)
            finished = True
        finally:
            self._stream_ended(deployment, model, usage, cost, finished=finished, hit=hit)
            close = getattr(chunks, "close", None)
            if callable(close):
                close()  # the service's stream ends its own log event and HTTP response

    def _stream_ended(
        self,
        deployment: str | None,
        model: str,
        usage: Usage | None,
        cost: Cost | None,
        *,
        finished: bool,
        hit: bool,
    ) -> None:
        asked = deployment or model
        if hit:
            saved = None if usage is None else self._cost(asked, model, usage)
            self.ledger.record_hits(asked, model or asked, 1, saved)
        elif finished or usage is not None:
            counted = model or asked
            if self.pricing is not None:
                counted = self.pricing.model_for(asked, model)[0]
            self.ledger.record(asked, counted, usage, cost)

    def _cost(self, deployment: str, replied: str, usage: Usage) -> Cost | None:
        if self.pricing is None:
            return None
        model, price = self.pricing.model_for(deployment, replied)
        return None if price is None else price.cost(usage, model)
