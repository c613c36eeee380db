"""`llmport doctor`: the configuration, the credential, one chat, one embedding; unset ones skipped."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from ..container import Container, build_client
from ..domain.errors import ConnectionFailedError, LLMPortError
from ..domain.replies import Cost
from ..domain.usage import UsageReport
from ..services.client import Client
from ..settings import Settings
from .cli_config import provider_url

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

    Returns:
        0 when every check that could run passed (the skipped ones included), 1 when one failed.
    """
    container = Container(settings=settings)
    client: Client | None = None
    url = provider_url(settings)
    rows: list[tuple[str, str, str, str]] = [
        ("configuration", "ok", "-", f"provider={settings.provider} auth={settings.auth or '-'}")
    ]
    failures: list[LLMPortError] = []

    def check(name: str, action: Callable[[], str]) -> None:
        started = time.perf_counter()
        try:
            detail = action()
        except LLMPortError as exc:
            failures.append(exc)
            rows.append((name, "FAILED", _ms(started), describe_error(exc, url)))
        else:
            rows.append((name, "ok", _ms(started), detail))

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
        credential_ok = not failures
        for name, action in (("chat", chat), ("embeddings", embed)):
            setting, variable = _MODELS[name]
            if getattr(settings, setting) is None:
                rows.append((name, "skipped", "-", f"no {setting}: set {variable} to check {name}"))
            elif not credential_ok:  # the calls cannot pass without it: say so rather than fail twice
                rows.append((name, "skipped", "-", "the credential check failed"))
            else:
                check(name, action)
        if client is not None:
            rows.append(("usage", "-", "-", _usage(client.usage)))
    finally:
        if client is not None:
            client.close()
    for name, status, took, detail in rows:
        out.write(f"{name:<14} {status:<8} {took:>8}  {detail}\n")
    if settings.chat_model is None and settings.embedding_model is None:
        out.write("note: no chat_model or embedding_model is set, so no call was tried\n")
    where = f" ({url})" if url else ""
    for fix in dict.fromkeys(
        _FIXES.get(type(failure).__name__, "see the error above").format(url=where) for failure in failures
    ):
        out.write(f"fix: {fix}\n")
    return 1 if failures else 0


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
