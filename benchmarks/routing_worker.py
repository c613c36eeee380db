"""One llmport process of the routing benchmark: ``python routing_worker.py CONFIG_JSON``.

CONFIG_JSON: ``{"store": "redis://..." | "memory", "prefix": ..., "deployments": [{"name", "url",
"priority", "rpm", "tpm"}], "threads": 8, "prompt": ..., "max_tokens": ...}``. The client is
built the way users build it: ``llmport.from_dict`` with ``deployments`` and ``budget_store``
when the installed llmport has those settings, else a Router wired into the same container.
Then ``routing_load.run`` drives ``client.chat(prompt, max_tokens=...)``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import routing_load  # a sibling module of a script

import llmport

MODEL = "gpt-4o-mini"
API_KEY = "sk-test"


def public_config(config: dict[str, Any]) -> dict[str, Any]:
    """The ``llmport.from_dict`` mapping of a routed client (the settings' documented shape)."""
    return {
        "chat_model": MODEL,
        "budget_store": config["store"],
        "move_after_timeout": bool(config.get("move_after_timeout", False)),
        "deployments": [
            {
                "name": d["name"],
                "provider": "openai",
                "base_url": f"{d['url']}/v1",
                "api_key": API_KEY,
                "priority": d["priority"],
                **{limit: d[limit] for limit in ("rpm", "tpm") if d[limit] is not None},
            }
            for d in config["deployments"]
        ],
    }


def has_public_path() -> bool:
    """Whether this llmport's settings know ``deployments`` (issue 12's public configuration)."""
    import dataclasses

    return "deployments" in {field.name for field in dataclasses.fields(llmport.Settings)}


def wired_client(config: dict[str, Any]) -> llmport.Client:
    """A client whose chat port is a Router, through the container (as the composition root would)."""
    from dependency_injector import providers

    from llmport.adapters.budget.memory import MemoryBudgetStore
    from llmport.adapters.budget.redis_store import RedisBudgetStore
    from llmport.adapters.llm.openai import OpenAIAdapter
    from llmport.container.root import Container, build_client
    from llmport.domain.budget import Budget
    from llmport.domain.ports import BudgetStore
    from llmport.services.routing.router import Deployment, Router

    store: BudgetStore
    if config["store"] == "memory":
        store = MemoryBudgetStore()
    else:
        store = RedisBudgetStore(config["store"], prefix=config.get("prefix", "llmport:budget"))
    deployments = [
        Deployment(
            d["name"],
            OpenAIAdapter(api_key=API_KEY, base_url=f"{d['url']}/v1"),
            priority=d["priority"],
            budget=Budget(d["name"], rpm=d["rpm"], tpm=d["tpm"]),
        )
        for d in config["deployments"]
    ]
    router = Router(deployments, store=store)
    first = config["deployments"][0]
    settings = llmport.Settings.from_dict(
        {"provider": "openai", "api_key": API_KEY, "base_url": f"{first['url']}/v1", "chat_model": MODEL}
    )
    container = Container(settings=settings)
    container.chat_adapter.override(providers.Object(router))
    container.embedding_adapter.override(providers.Object(router))
    return build_client(settings, container)


def build(config: dict[str, Any]) -> tuple[llmport.Client, str]:
    """The client, and which path built it (``from_dict`` or ``router``)."""
    if config.get("path", "auto") != "router" and has_public_path():
        return llmport.from_dict(public_config(config)), "from_dict"
    return wired_client(config), "router"


def main(raw: str) -> None:
    config = json.loads(raw)
    folder = os.environ.get("ROUTING_BENCH_LOGS")
    if folder:  # every routing decision of this process, for a look after the run
        handler = logging.FileHandler(Path(folder) / f"llmport-{os.getpid()}.log")
        handler.setFormatter(logging.Formatter("%(created).3f %(levelname)s %(name)s %(message)s"))
        for name in ("llmport.routing", "llmport.budget"):
            logging.getLogger(name).addHandler(handler)
            logging.getLogger(name).setLevel(logging.INFO)
    client, path = build(config)
    prompt, max_tokens = config["prompt"], config["max_tokens"]

    def call() -> str:
        return client.chat(prompt, max_tokens=max_tokens).deployment or "?"

    where = Path(llmport.__file__).resolve().parent
    routing_load.run(
        call,
        config["threads"],
        {
            "path": f"llmport.{path} ({where})"
            if path == "from_dict"
            else f"a Router wired into the container ({where})"
        },
    )


if __name__ == "__main__":
    main(sys.argv[1])
