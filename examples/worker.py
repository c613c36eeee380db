"""A batch worker: embeds the lines of stdin with one shared client, one JSON line per text out."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

import llmport


def embed_lines(client: llmport.Client, lines: Iterable[str]) -> list[dict[str, object]]:
    texts = [line.strip() for line in lines if line.strip()]
    vectors = client.embed(texts).vectors  # any number of texts: batched, in order
    return [{"text": text, "vector": vector} for text, vector in zip(texts, vectors, strict=True)]


def main() -> int:
    # LLMPORT_PROVIDER=fake runs it offline; OPENAI_API_KEY or AZURE_OPENAI_ENDPOINT run it for real.
    try:
        with llmport.from_env() as client:
            rows = embed_lines(client, sys.stdin)
    except llmport.ConfigurationError as exc:
        print(f"configuration: {exc}", file=sys.stderr)
        return 2
    except llmport.QuotaExceededError as exc:  # waiting will not help: stop the job
        print(f"out of quota: {exc}", file=sys.stderr)
        return 3
    except llmport.LLMPortError as exc:  # retried already; let the scheduler try again later
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    for row in rows:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
