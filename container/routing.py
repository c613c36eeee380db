"""The composition root's part for a client over several deployments: one Router, its store, its parts.

Each deployment is wired by a Container of its own (its settings are whole Settings), so it gets
the same adapter, credential and token cache a client of that one endpoint would; the Router
over them is then the client's ChatPort and EmbeddingPort.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dependency_injector import providers

from ..domain.budget import Budget
from ..domain.context_windows import ContextWindow, known_window
from ..domain.ports import BudgetStore, Closeable, TokenCounter
from ..services.routing.router import Deployment, Router
from ..services.token_cache import TokenCache
from ..settings import DeploymentSettings, Settings, budget_key

__all__ = ["budget_store", "context_window", "router"]


def budget_store(settings: Settings, clock: Callable[[], float]) -> BudgetStore | None:
    """The routed client's budget store: this process's memory, or Redis shared by every process."""
    if not settings.routes:
        return None
    if settings.budget_store == "memory":
        from ..adapters.budget.memory import MemoryBudgetStore

        return MemoryBudgetStore(clock=clock)
    from ..adapters.budget.redis_store import RedisBudgetStore

    prefix = "llmport:budget"
    if settings.budget_namespace is not None:
        prefix += f":{settings.budget_namespace}"
    return RedisBudgetStore(settings.budget_store, prefix=prefix, clock=clock)


def router(
    settings: Settings,
    store: BudgetStore | None,
    wall_clock: Callable[[], float],
    http_client: Any,
    make_container: Callable[[Settings], Any],
    *,
    counter: TokenCounter | None = None,
) -> Router | None:
    """The Router over every deployment of ``settings``; None for a client of one endpoint.

    ``make_container`` wires one deployment's settings (a ``Container``; passed in, not imported,
    so that this module and ``root.py`` do not import each other). ``counter`` counts each call
    for its reservation and the deployments' context windows; None: estimates, no window checked.
    """
    if store is None:
        return None
    deployments: list[Deployment] = []
    parts: list[object] = []
    for routed in settings.routes:
        container = make_container(routed.settings)
        container.wall_clock.override(providers.Object(wall_clock))
        if http_client is not None:
            container.http_client.override(providers.Object(http_client))
        adapter = container.chat_adapter()
        if hasattr(adapter, "deployment_name"):
            adapter.deployment_name = routed.name  # named on its replies as they are built: no copy
        cache = container.token_cache()
        parts += [container.credential(), cache]
        deployments.append(_deployment(routed, adapter, cache))

    def close() -> None:
        for part in parts:
            if isinstance(part, Closeable) and not isinstance(part, TokenCache):
                part.close()
        store.close()

    return Router(
        deployments,
        store=store,
        clock=wall_clock,
        move_after_timeout=settings.move_after_timeout,
        on_close=close,
        parts=parts,
        counter=counter,
    )


def _deployment(routed: DeploymentSettings, adapter: Any, cache: TokenCache | None) -> Deployment:
    return Deployment(
        routed.name,
        adapter,
        priority=routed.priority,
        weight=routed.weight,
        budget=Budget(
            routed.name,
            rpm=routed.rpm,
            tpm=routed.tpm,
            eject_after=routed.eject_after,
            eject_for=routed.eject_for,
            key=budget_key(routed),
        ),
        model=routed.settings.chat_model,
        embedding_model=routed.settings.embedding_model,
        kinds=routed.kinds,  # type: ignore[arg-type]
        reauthenticate=cache.reauthenticate if cache is not None else None,
        context_window=context_window(routed.settings),
    )


def context_window(settings: Settings) -> ContextWindow | None:
    """A deployment's chat window: its ``context_window`` setting, else the table's for its model
    (through ``deployment_models`` on Azure); None when neither knows it."""
    if settings.context_window is not None:
        return ContextWindow(settings.context_window)
    model = settings.chat_model
    return known_window(settings.deployment_models.get(model, model) if model is not None else None)
