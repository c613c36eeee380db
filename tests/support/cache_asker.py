"""A process that asks the loopback through a client with the Redis reply cache, when the test says go.

Run as ``python cache_asker.py BASE_URL API_KEY CACHE_URL``. It builds its own client, then for each
JSON command read on stdin (``op``: chat, stream or embed; ``text``; ``deadline``; ``go``: a file
path) prints ``{"ready": true}``, waits for the file ``go`` to exist (so that every process asks at
once), makes the call and prints what it got: the reply's text or vectors, whether it came from the
cache, the seconds the call took, or the error's class name. One JSON line each, flushed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import llmport


def _say(fields: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def _ask(client: llmport.Client, command: dict[str, Any]) -> dict[str, Any]:
    op, text, deadline = command["op"], command["text"], command.get("deadline")
    if op == "chat":
        reply = client.chat(text, deadline=deadline)
        return {"text": reply.text, "cache_hit": reply.cache_hit}
    if op == "stream":
        chunks = list(client.stream(text, deadline=deadline))
        folded = llmport.fold_stream(chunks)
        return {"text": folded.text, "cache_hit": folded.cache_hit, "chunks": [c.text for c in chunks]}
    response = client.embed(text.split(), deadline=deadline)
    return {"vectors": [list(v) for v in response.vectors], "cache_hits": response.cache_hits}


def main() -> None:
    base_url, api_key, cache = sys.argv[1:4]
    settings = llmport.Settings(
        provider="openai",
        base_url=base_url,
        api_key=api_key,
        chat_model="gpt-4o-mini",
        embedding_model="text-embedding-3-small",
        cache=cache,
        max_retries=0,
    )
    with llmport.build_client(settings) as client:
        _say({"started": True})
        for line in sys.stdin:
            command = json.loads(line)
            go = Path(command["go"])
            _say({"ready": True})
            while not go.exists():
                time.sleep(0.002)
            started = time.perf_counter()
            try:
                result = _ask(client, command)
            except llmport.LLMPortError as error:
                result = {"error": type(error).__name__}
            _say({**result, "seconds": time.perf_counter() - started})


if __name__ == "__main__":
    main()
