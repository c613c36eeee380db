"""What a router decides before it sends: the deployments, their order, token estimates, log events."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

from ...domain.budget import Budget, Remaining
from ...domain.context_windows import ContextWindow
from ...domain.errors import AuthenticationError, ConfigurationError
from ...domain.models import ChatRequest, EmbeddingRequest, Usage
from ...domain.ports import ChatPort, EmbeddingPort

__all__ = [
    "VIEW_LIFETIME",
    "Deployment",
    "Kind",
    "Plan",
    "addressed",
    "charged",
    "estimate_chat",
    "estimate_embedding",
    "log_event",
    "plan",
]

RequestT = TypeVar("RequestT", ChatRequest, EmbeddingRequest)

#: The calls a deployment may take.
Kind = Literal["chat", "embeddings"]
#: Every routing decision is one record on this logger; its fields are in ``record.routing``.
LOGGER = logging.getLogger("llmport.routing")
#: Seconds a router plans from the store's last answer; an older one is read again first. Under
#: load every call refreshes it; a quiet client pays one more round trip, and never plans from a
#: world (Redis back, budgets refilled) more than a second old.
VIEW_LIFETIME = 1.0


@dataclass(frozen=True, slots=True)
class Deployment:
    """One deployment a router may send to.

    Args:
        name: the deployment's id: named on results and logs, and the budget store's key.
        adapter: the ChatPort and/or EmbeddingPort that reaches it.
        priority: lower is tried first (a PTU deployment 0, pay-as-you-go 1).
        weight: breaks ties between deployments of a group with as much budget left (higher first).
        budget: its limits (``Budget(name, rpm=..., tpm=...)``); None for none (still cooled, ejected).
        model: the model or deployment name sent to it, replacing the request's.
        embedding_model: the model sent with embedding calls, when not ``model``.
        kinds: the calls it takes (``{"chat"}``, ``{"embeddings"}``); None: whatever its adapter serves.
        reauthenticate: called with a 401 from it; gets a new token and returns True when a
            retry with it is worth it (``TokenCache.renew``); None: a 401 is final.
        context_window: its chat model's window; a chat call too long for it goes elsewhere
            (``sizing.py``); None: not checked.

    Raises:
        ConfigurationError: a blank name, a weight that is not > 0, or a budget named otherwise.
    """

    name: str
    adapter: ChatPort | EmbeddingPort
    priority: int = 0
    weight: float = 1.0
    budget: Budget | None = None
    model: str | None = None
    embedding_model: str | None = None
    kinds: frozenset[Kind] | None = None
    reauthenticate: Callable[[AuthenticationError], bool] | None = field(
        default=None, repr=False, compare=False
    )
    context_window: ContextWindow | None = None
    #: The budget the store is asked about: ``budget``, or one with no limits under ``name``.
    limits: Budget = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigurationError("Deployment.name must be a non-blank string")
        if not isinstance(self.weight, (int, float)) or not math.isfinite(self.weight) or self.weight <= 0:
            raise ConfigurationError(f"Deployment.weight of {self.name!r} must be > 0")
        if self.budget is not None and self.budget.deployment != self.name:
            raise ConfigurationError(
                f"the budget of deployment {self.name!r} is named {self.budget.deployment!r}; name it alike"
            )
        object.__setattr__(self, "limits", self.budget or Budget(self.name))

    def serves(self, kind: Kind) -> bool:
        """Whether it takes ``kind`` (``chat`` or ``embeddings``) calls."""
        if self.kinds is not None and kind not in self.kinds:
            return False
        port = ChatPort if kind == "chat" else EmbeddingPort
        return isinstance(self.adapter, port)

    def model_for(self, kind: Kind) -> str | None:
        """The model name sent with ``kind`` calls, or None to keep the request's."""
        if kind == "embeddings" and self.embedding_model is not None:
            return self.embedding_model
        return self.model


def addressed(request: RequestT, deployment: Deployment, kind: Kind) -> RequestT:
    """``request`` as sent to ``deployment``: with the model it names for ``kind`` calls, if any."""
    model = deployment.model_for(kind)
    return request if model is None or model == request.model else replace(request, model=model)


@dataclass(frozen=True, slots=True)
class Plan:
    """The deployments to try, in order, and the waits of those skipped (for a refusal's hint)."""

    order: tuple[Deployment, ...]
    waits: tuple[float, ...]


def plan(
    deployments: Sequence[Deployment],
    remaining: dict[str, Remaining],
    elapsed: float = 0.0,
    *,
    probing_unknown: bool = False,
) -> Plan:
    """Order ``deployments`` for one call from one read of the store, ``elapsed`` seconds old.

    Lowest priority first; within a group, the most budget left (the smallest fraction of any
    limit left: regions of different sizes fill evenly), then the highest weight, then the
    configured order. A deployment that cannot serve now (cooling, ejected, out of requests) is
    skipped and logged; its wait is kept. With ``probing_unknown`` (an old read), a half-open
    deployment counts as unread: its probe may have settled since, and the store will say.
    """
    ready: list[Deployment] = []
    lefts: list[Remaining | None] = []
    waits: list[float] = []
    ordered = True  # by strictly rising priority already: no budget to compare
    for deployment in deployments:
        left = remaining.get(deployment.name)
        if left is not None and probing_unknown and left.health == "half_open":
            left = None
        if left is not None and left.wait - elapsed > 0:
            wait = left.wait - elapsed
            log_event("skipped", deployment, reason=_why_waiting(left), wait=wait)
            waits.append(wait)
            continue
        if ready and ready[-1].priority >= deployment.priority:
            ordered = False
        ready.append(deployment)
        lefts.append(left)
    if not ordered:
        rooms = {d.name: _room(d.limits, left) for d, left in zip(ready, lefts, strict=True)}
        ready.sort(key=lambda d: (d.priority, -rooms[d.name], -d.weight))
    return Plan(tuple(ready), tuple(waits))


def _why_waiting(left: Remaining) -> str:
    if left.health == "open":
        return "ejected"
    if left.health == "half_open":
        return "probing"
    return "requests" if left.requests == 0 else "cooling"


def _room(budget: Budget, left: Remaining | None) -> float:
    """The fraction left of the tightest limit (1.0 with no limits, or none read)."""
    if left is None:
        return 1.0
    room = 1.0
    if left.requests is not None and budget.rpm is not None:
        room = left.requests / budget.rpm
    if left.tokens is not None and budget.tpm is not None:
        room = min(room, left.tokens / budget.tpm)
    return room


def estimate_chat(request: ChatRequest, default_max_tokens: int) -> int:
    """A chat call's tokens before sending: characters / 4 (+ 3) per message, plus max_tokens."""
    prompt = 0
    for message in request.messages:
        content = message.content
        prompt += 3 + (len(content if type(content) is str else message.text) + 3) // 4  # ceil(n / 4)
    return prompt + (request.max_tokens or default_max_tokens)


def charged(estimate: int, completion: int, usage: Usage) -> int:
    """What a chat call counts against a tokens-per-minute limit, once its usage is known.

    Azure and OpenAI count a request's prompt plus its ``max_tokens`` when it arrives, not the
    tokens it generated: settling to the reply's usage would hand back room the provider still
    counts, and a busy deployment would answer the next calls with 429. So the prompt is
    corrected to what the provider counted, and the completion stays what was asked for.
    """
    if not (usage.prompt_tokens or usage.total_tokens):
        return estimate  # no usage reported: the estimate stands
    return max(usage.prompt_tokens + completion, usage.total_tokens)


def estimate_embedding(request: EmbeddingRequest) -> int:
    """An embedding call's tokens before sending: characters / 4 per input."""
    return sum(math.ceil(len(text) / 4) for text in request.inputs)


def log_event(event: str, deployment: Deployment, level: int = logging.INFO, **fields: Any) -> None:
    """One routing decision (chosen, skipped, spilled, cooled, failed_over, ejected, restored), logged."""
    if LOGGER.isEnabledFor(level):
        details = {"event": event, "deployment": deployment.name, "priority": deployment.priority, **fields}
        shown = " ".join(f"{key}={value}" for key, value in details.items() if key != "event")
        LOGGER.log(level, "routing %s %s", event, shown, extra={"routing": details})
