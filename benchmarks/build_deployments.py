"""Building a client over many deployments: ``python benchmarks/build_deployments.py [--deployments N]``.

Each mode runs in a fresh process, which first imports everything and builds a one-deployment
client (so that import time is not counted), then times the build of:

- ``llmport``: one routed client with N deployments (``llmport.from_dict`` with N entries under
  ``deployments``, as README.md's "Several deployments" shows), each with its own SDK client;
- ``raw``: N ``openai.OpenAI`` (or ``AzureOpenAI``) clients as the SDK builds them by default,
  each with its own httpx client and therefore its own TLS context: the SDK's own per-client cost.

Printed, one line per mode: the build's wall-clock seconds (and the CPU seconds of the process,
which other load on the machine disturbs less), the process's peak RSS (MiB) and the RSS it grew
by during the build. Nothing is sent: the endpoints are never contacted. Bounded by N
(default 1,000; at most 5,000).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any

MODES = ("llmport", "raw")
_PROVIDERS = ("openai", "azure", "azure_v1")


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _current_mib() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / (1024 * 1024)


def _entry(provider: str, index: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": f"d{index}",
        "provider": provider,
        "api_key": "sk-bench",
        "priority": index % 3,
    }
    if provider == "openai":
        entry["base_url"] = f"https://h{index}.example.invalid/v1"
    else:
        entry["endpoint"] = f"https://r{index}.openai.azure.com"
        if provider == "azure":
            entry["api_version"] = "2024-10-21"
    return entry


def _llmport(provider: str, count: int) -> list[Any]:
    import llmport

    def build(n: int) -> Any:
        return llmport.from_dict(
            {"chat_model": "gpt-4o", "deployments": [_entry(provider, i) for i in range(n)]}
        )

    build(1).close()
    return [build, count]


def _raw(provider: str, count: int) -> list[Any]:
    import openai

    def one(index: int) -> Any:
        if provider == "azure":
            return openai.AzureOpenAI(
                azure_endpoint=f"https://r{index}.openai.azure.com",
                api_key="sk-bench",
                api_version="2024-10-21",
            )
        url = (
            f"https://h{index}.example.invalid/v1"
            if provider == "openai"
            else f"https://r{index}.openai.azure.com/openai/v1/"
        )
        return openai.OpenAI(base_url=url, api_key="sk-bench")

    def build(n: int) -> list[Any]:
        return [one(index) for index in range(n)]

    build(1)
    return [build, count]


def measure(mode: str, provider: str, count: int) -> dict[str, float]:
    """Build in this process; return seconds, peak RSS and RSS growth (MiB)."""
    build, n = (_llmport if mode == "llmport" else _raw)(provider, count)
    before = _current_mib()
    started, cpu_started = time.perf_counter(), time.process_time()
    built = build(n)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    figures = {"seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3), "peak_mib": round(_peak_mib(), 1)}
    figures["grew_mib"] = round(_current_mib() - before, 1)
    del built
    return figures


def main() -> None:
    """Run every mode in a fresh process and print one line per mode."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=1000)
    parser.add_argument("--provider", choices=_PROVIDERS, default="azure")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    count = max(1, min(args.deployments, 5000))
    if args.child:
        print(json.dumps(measure(args.child, args.provider, count)))
        return
    print(f"{count} deployments, provider {args.provider}")
    for mode in args.modes.split(","):
        out = subprocess.run(  # noqa: S603 - this script, this interpreter
            [
                sys.executable,
                __file__,
                "--child",
                mode,
                "--provider",
                args.provider,
                "--deployments",
                str(count),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{mode:8} build {figures['seconds']:7.2f} s (CPU {figures['cpu_seconds']:6.2f} s)   "
            f"peak RSS {figures['peak_mib']:7.1f} MiB   "
            f"grew {figures['grew_mib']:6.1f} MiB"
        )


if __name__ == "__main__":
    main()
