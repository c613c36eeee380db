"""What tokens cost and what a client has used: a model's prices, a call's cost, running totals."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._checks import freeze
from .errors import ValidationError
from .frozen import FrozenMap
from .replies import Cost, Usage

__all__ = ["FrozenMap", "ModelPrice", "UsageReport", "UsageTotals"]

_PER = 1_000_000  # prices are per 1M tokens


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """One model's prices per 1M tokens, in the currency of your choice.

    Args:
        input: per 1M prompt tokens.
        output: per 1M completion tokens (reasoning tokens are billed as these); 0 for an
            embedding model, which has none.
        cached_input: per 1M prompt tokens read from the provider's prompt cache; None means
            the ``input`` price (no discount).
        batch: the share of these prices a Batch API request pays (``client.batch``): 0.5, half,
            as OpenAI and Azure OpenAI price it, unless your table says otherwise.

    Raises:
        ValidationError: a price is not a finite number of 0 or more.
    """

    input: float
    output: float = 0.0
    cached_input: float | None = None
    batch: float = 0.5

    def __post_init__(self) -> None:
        for name in ("input", "output", "cached_input", "batch"):
            value = getattr(self, name)
            if value is None and name == "cached_input":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValidationError(f"{name}: {value!r} is not a number; give the price per 1M tokens")
            if value < 0:
                raise ValidationError(f"{name}: {value!r} is negative; a price is 0 or more")
            freeze(self, name, float(value))

    def cost(self, usage: Usage, model: str) -> Cost:
        """The cost of ``usage`` at these prices, labelled with the price-table entry ``model``."""
        cached = min(usage.cached_tokens, usage.prompt_tokens)
        cached_price = self.input if self.cached_input is None else self.cached_input
        return Cost(
            (usage.prompt_tokens - cached) * self.input / _PER,
            cached * cached_price / _PER,
            usage.completion_tokens * self.output / _PER,
            model,
        )

    def batch_cost(self, usage: Usage, model: str) -> Cost:
        """The cost of ``usage`` run through the Batch API: these prices times ``batch``."""
        full = self.cost(usage, model)
        share = self.batch
        return Cost(full.input * share, full.cached_input * share, full.output * share, model)


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """Token counts and calls summed over a client's calls (all, one model's, or one deployment's).

    ``cost`` sums the estimated costs of the priced calls (None when no call was priced);
    ``unpriced_calls`` counts the calls without a price, whose cost is missing from it;
    ``cached_share`` is the share of prompt tokens the provider read from its prompt cache.
    """

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float | None = None
    unpriced_calls: int = 0
    #: Replies (chat) and inputs (embeddings) served from the reply cache: no request, no tokens.
    cache_hits: int = 0
    #: What the cached chat replies would have cost (their stored usage, priced); None: none priced.
    cache_saved_cost: float | None = None

    @property
    def cached_share(self) -> float:
        """``cached_tokens / prompt_tokens``, from 0.0 to 1.0: how much of the prompts the provider
        read from its own prompt cache (billed at the cached-input price); 0.0 with no prompt tokens."""
        if self.prompt_tokens <= 0:
            return 0.0
        return min(self.cached_tokens, self.prompt_tokens) / self.prompt_tokens

    @property
    def usage(self) -> Usage:
        """The token counts as a Usage."""
        return Usage(
            self.prompt_tokens,
            self.completion_tokens,
            self.total_tokens,
            self.cached_tokens,
            self.reasoning_tokens,
        )


@dataclass(frozen=True, slots=True)
class UsageReport(UsageTotals):
    """What ``client.usage`` returns: the totals, and the same per model and per deployment.

    ``by_deployment`` is keyed by the model the request named (the deployment on Azure);
    ``by_model`` by the model a call was priced as, else the one the reply named.
    """

    by_model: Mapping[str, UsageTotals] = field(default_factory=FrozenMap)
    by_deployment: Mapping[str, UsageTotals] = field(default_factory=FrozenMap)

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready values."""
        shown = _totals_dict(self)
        shown["by_model"] = {name: _totals_dict(totals) for name, totals in self.by_model.items()}
        shown["by_deployment"] = {name: _totals_dict(totals) for name, totals in self.by_deployment.items()}
        return shown


def _totals_dict(totals: UsageTotals) -> dict[str, Any]:
    return {
        "calls": totals.calls,
        "prompt_tokens": totals.prompt_tokens,
        "completion_tokens": totals.completion_tokens,
        "total_tokens": totals.total_tokens,
        "cached_tokens": totals.cached_tokens,
        "cached_share": totals.cached_share,
        "reasoning_tokens": totals.reasoning_tokens,
        "cost": totals.cost,
        "unpriced_calls": totals.unpriced_calls,
        "cache_hits": totals.cache_hits,
        "cache_saved_cost": totals.cache_saved_cost,
    }
