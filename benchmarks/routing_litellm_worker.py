"""One LiteLLM process of the routing benchmark, run by LiteLLM's own venv: ``python ... CONFIG_JSON``.

The same CONFIG_JSON as routing_worker.py, plus ``redis`` (``[host, port]``, or null for none)
and ``strategy``. The configuration is LiteLLM's documented one for quota-aware routing across
replicas: one model group with a deployment per endpoint, each with its ``rpm``/``tpm`` and an
``order`` (1 is tried first, 2 is its order fallback), ``routing_strategy`` usage-based-routing-v2
(TPM/RPM counted in Redis), ``enable_pre_call_checks`` (deployments over their limit are
filtered before the order is applied), and ``num_retries=2`` like llmport's default.
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

MODEL = "gpt-4o-mini"


def build(config: dict[str, Any]) -> Any:
    os.environ.setdefault("LITELLM_LOG", "CRITICAL")
    import litellm
    from litellm import Router

    litellm.suppress_debug_info = True
    logging.getLogger("LiteLLM").setLevel(logging.CRITICAL)
    logging.getLogger("LiteLLM Router").setLevel(logging.CRITICAL)
    model_list = [
        {
            "model_name": MODEL,
            "litellm_params": {
                "model": f"openai/{MODEL}",
                "api_base": f"{d['url']}/v1",
                "api_key": "sk-test",
                **{limit: d[limit] for limit in ("rpm", "tpm") if d[limit] is not None},
                "order": d["priority"] + 1,
            },
            "model_info": {"id": d["name"]},
        }
        for d in config["deployments"]
    ]
    options: dict[str, Any] = {
        "routing_strategy": config.get("strategy", "usage-based-routing-v2"),
        "enable_pre_call_checks": True,
        "num_retries": 2,
    }
    if config.get("redis"):
        host, port = config["redis"]
        options.update(redis_host=host, redis_port=int(port))
    return Router(model_list=model_list, **options)


def main(raw: str) -> None:
    config = json.loads(raw)
    router = build(config)
    messages = [{"role": "user", "content": config["prompt"]}]
    max_tokens = config["max_tokens"]

    def call() -> str:
        reply = router.completion(model=MODEL, messages=messages, max_tokens=max_tokens)
        hidden = getattr(reply, "_hidden_params", {}) or {}
        return str(hidden.get("model_id") or "?")

    from importlib.metadata import version

    routing_load.run(call, config["threads"], {"path": f"litellm {version('litellm')} Router"})


if __name__ == "__main__":
    main(sys.argv[1])
