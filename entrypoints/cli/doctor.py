"""`llmport doctor`: the configuration, the credential, one chat, one embedding; unset ones skipped."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from ...container.root import Container, build_client
from ...container.routing import budget_store
from ...domain.budget import Budget
from ...domain.errors import ConnectionFailedError, LLMPortError
from ...domain.ports import Closeable
from ...domain.replies import Cost
from ...domain.usage import UsageReport
from ...services.client import Client
from ...settings import Settings, redacted_store
from .config import provider_url

__all__ = ["describe_error", "doctor"]

# What to do about each failure `llmport doctor` can meet, by the error's class name.
_FIXES = {
    "AuthenticationError": "check the key (OPENAI_API_KEY / AZURE_OPENAI_API_KEY) or sign in (az login)",
    "PermissionDeniedError": "grant the identity the 'Cognitive Services OpenAI User' role",
    "NotFoundError": "check the model / deployment name (LLMPORT_CHAT_MODEL, LLMPORT_EMBEDDING_MODEL)",
    "ConnectionFailedError": "check the endpoint URL{url} and the network path to it",
    "RequestTimeoutError": (
        "the service is slow or unreachable{url}; raise LLMPORT_TIMEOUT or check the network"
    ),
    "ConfigurationError": "fix the setting named above",
}
# The model setting each call needs, and its variable: without it the call is skipped, not failed.
_MODELS = {
    "chat": ("chat_model", "LLMPORT_CHAT_MODEL"),
    "embeddings": ("embedding_model", "LLMPORT_EMBEDDING_MODEL"),
}


def doctor(settings: Settings, out: TextIO) -> int:
    """Check what is configured, print one row per check and a fix per failure.

    A client over several deployments is checked deployment by deployment (each row says which),
    then its budget store.

    Returns:
        0 when every check that could run passed (the skipped ones included), 1 when one failed.
    """
    rows: list[tuple[str, str, str, str]] = [
        ("configuration", "ok", "-", f"provider={settings.provider} auth={settings.auth or '-'}")
    ]
    failures: list[tuple[LLMPortError, str | None]] = []
    if settings.routes:
        rows[0] = ("configuration", "ok", "-", f"{len(settings.routes)} deployments")
        for deployment in settings.routes:
            _check_one(deployment.settings, rows, failures, label=f"{deployment.name}: ")
        rows.append(_store_row(settings))
    else:
        _check_one(settings, rows, failures)
    width = max(len(row[0]) for row in rows) + 1
    for name, status, took, detail in rows:
        out.write(f"{name:<{width}} {status:<8} {took:>8}  {detail}\n")
    if settings.chat_model is None and settings.embedding_model is None:
        out.write("note: no chat_model or embedding_model is set, so no call was tried\n")
    fixes = (
        _FIXES.get(type(failure).__name__, "see the error above").format(url=f" ({url})" if url else "")
        for failure, url in failures
    )
    for fix in dict.fromkeys(fixes):
        out.write(f"fix: {fix}\n")
    return 1 if failures or any(row[1] == "FAILED" for row in rows) else 0


def _check_one(
    settings: Settings,
    rows: list[tuple[str, str, str, str]],
    failures: list[tuple[LLMPortError, str | None]],
    *,
    label: str = "",
) -> None:
    """The credential, one chat and one embedding of one endpoint, as rows."""
    container = Container(settings=settings)
    client: Client | None = None
    url = provider_url(settings)
    failed_before = len(failures)

    def check(name: str, action: Callable[[], str]) -> None:
        started = time.perf_counter()
        try:
            detail = action()
        except LLMPortError as exc:
            failures.append((exc, url))
            rows.append((label + name, "FAILED", _ms(started), describe_error(exc, url)))
        else:
            rows.append((label + name, "ok", _ms(started), detail))

    def token() -> str:
        cache = container.token_cache()
        if cache is None:
            return "API key: no token to fetch"
        expires_on = cache.get_token().expires_on
        if settings.auth == "token":
            # A static token carries no lifetime llmport can read: any figure would be made up.
            return "static token (auth=token): read; its expiry is unknown, not checked"
        return f"token valid for {(expires_on - time.time()) / 60:.0f} min"

    def chat() -> str:
        reply = _client().chat("Reply with the word ok.", max_tokens=5)
        return f"model={reply.model} request_id={reply.request_id}{_priced(settings, reply.cost)}"

    def embed() -> str:
        response = _client().embed(["llmport doctor"])
        priced = _priced(settings, response.cost)
        return f"dimensions={len(response.vectors[0])} model={response.model}{priced}"

    def _client() -> Client:
        nonlocal client
        client = client or build_client(settings, container)
        return client

    try:
        check("credential", token)
        credential_ok = len(failures) == failed_before
        for name, action in (("chat", chat), ("embeddings", embed)):
            setting, variable = _MODELS[name]
            if getattr(settings, setting) is None:
                rows.append((label + name, "skipped", "-", f"no {setting}: set {variable} to check {name}"))
            elif not credential_ok:  # the calls cannot pass without it: say so rather than fail twice
                rows.append((label + name, "skipped", "-", "the credential check failed"))
            else:
                check(name, action)
        if client is not None:
            rows.append((label + "usage", "-", "-", _usage(client.usage)))
    finally:
        if client is not None:
            client.close()
        else:
            credential = container.credential()
            if isinstance(credential, Closeable):
                credential.close()


def _store_row(settings: Settings) -> tuple[str, str, str, str]:
    """Whether the budget store answers: memory always does; Redis is asked once."""
    if settings.budget_store == "memory":
        return ("budget store", "ok", "-", "memory: budgets of this process only")
    started = time.perf_counter()
    store = budget_store(settings, time.time)
    if store is None:  # pragma: no cover - a routed client always has one
        return ("budget store", "skipped", "-", "no deployments")
    try:
        store.remaining([Budget(deployment.name) for deployment in settings.routes])
        fallback = getattr(store, "using_fallback", False)
    finally:
        store.close()
    shown = redacted_store(settings.budget_store)
    if fallback:
        detail = f"{shown} did not answer: budgets fall back to this process until it does"
        return ("budget store", "FAILED", _ms(started), detail)
    return ("budget store", "ok", _ms(started), f"{shown}: budgets shared by every process")


def describe_error(exc: LLMPortError, url: str | None) -> str:
    """The error's class and message, with the URL a connection failure could not reach."""
    if isinstance(exc, ConnectionFailedError) and url:
        return f"{type(exc).__name__} at {url}: {exc}"
    return f"{type(exc).__name__}: {exc}"


def _priced(settings: Settings, cost: Cost | None) -> str:
    # With a price table, say what the call was priced as: the check of the deployment_models map.
    if not (settings.prices or settings.deployment_models):
        return ""
    if cost is None:
        return " cost=unpriced (add the model to prices, or the deployment to deployment_models)"
    return f" cost={cost.total:.8f} (priced as {cost.model})"


def _usage(usage: UsageReport) -> str:
    cost = "" if usage.cost is None else f", cost {usage.cost:.8f}"
    if usage.cost is not None and usage.unpriced_calls:
        cost += f" ({usage.unpriced_calls} unpriced)"
    return (
        f"{usage.calls} calls: {usage.prompt_tokens} prompt ({usage.cached_tokens} cached) + "
        f"{usage.completion_tokens} completion ({usage.reasoning_tokens} reasoning) tokens{cost}"
    )


def _ms(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.0f} ms"
