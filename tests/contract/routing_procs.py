"""One process of the multi-process routing tests: a Router of its own, chat calls, what happened.

Run as ``python routing_procs.py CONFIG_JSON``. CONFIG holds ``store`` (``redis`` or ``memory``),
``redis_url`` and ``prefix``, ``deployments`` (``name``, ``shape`` openai|azure, ``url``,
``priority``, ``rpm``, ``tpm``), ``calls``, ``threads`` and ``max_tokens``. The process builds
its Router, prints ``ready``, waits for a line on stdin (so that every process starts at once),
sends ``calls`` chat calls from ``threads`` threads and prints one JSON line: per call
``[started, ended, deployment or null, error class or null, error code or null]`` (``time.time``,
one epoch for every process of the host), and whether the Redis store fell back.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from llmport.adapters.budget.memory import MemoryBudgetStore
from llmport.adapters.llm.azure import AzureClassicAdapter
from llmport.adapters.llm.openai import OpenAIAdapter
from llmport.domain.budget import Budget
from llmport.domain.errors import LLMPortError
from llmport.domain.messages import Message
from llmport.domain.models import ChatRequest
from llmport.services.routing.router import Deployment, Router

API_KEY = "test-key"  # QuotaServer's default
API_VERSION = "2024-10-21"


def build_adapter(shape: str, url: str) -> Any:
    if shape == "azure":
        return AzureClassicAdapter(endpoint=url, api_version=API_VERSION, api_key=API_KEY, timeout=10)
    return OpenAIAdapter(api_key=API_KEY, base_url=f"{url}/v1", timeout=10)


def build_router(config: dict[str, Any]) -> tuple[Router, Any]:
    if config["store"] == "redis":
        from llmport.adapters.budget.redis_store import RedisBudgetStore

        store: Any = RedisBudgetStore(config["redis_url"], prefix=config["prefix"], timeout=5)
    else:
        store = MemoryBudgetStore()
    deployments = [
        Deployment(
            spec["name"],
            build_adapter(spec["shape"], spec["url"]),
            priority=spec["priority"],
            budget=Budget(spec["name"], rpm=spec.get("rpm"), tpm=spec.get("tpm")),
            model=spec["name"],
        )
        for spec in config["deployments"]
    ]
    return Router(deployments, store=store), store


def main(raw: str) -> None:
    config = json.loads(raw)
    router, store = build_router(config)
    request = ChatRequest((Message.user("hi"),), max_tokens=config["max_tokens"])

    def one(_: int) -> list[Any]:
        started = time.time()
        try:
            served: str | None = router.complete(request).deployment
            error = code = None
        except LLMPortError as exc:
            served, error, code = None, type(exc).__name__, exc.code
        return [started, time.time(), served, error, code]

    print("ready", flush=True)
    sys.stdin.readline()
    with ThreadPoolExecutor(config["threads"]) as pool:
        calls = list(pool.map(one, range(config["calls"])))
    fell_back = bool(getattr(store, "using_fallback", False))
    router.close()
    store.close()
    print(json.dumps({"calls": calls, "fell_back": fell_back}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
