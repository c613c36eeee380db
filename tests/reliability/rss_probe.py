"""Peak RSS while llmport meets 200 MB replies: run as a script, prints one JSON line of figures.

    PYTHONPATH=tests/support python tests/reliability/rss_probe.py [MAX_RESPONSE_BYTES]

A raw server on 127.0.0.1 answers a chat call with a 200 MB JSON body and an embeddings call with
a 429 whose error body is 200 MB (retried as a 429 is); the probe reports the peak RSS before and
after, in MiB, beside the cap. The test suite runs it with a small cap; docs/reliability.md
quotes it with the default.
"""

from __future__ import annotations

import json
import resource
import sys
import time

from raw_server import RawServer, huge

import llmport
from llmport.adapters.llm.wire.transport import DEFAULT_MAX_RESPONSE_BYTES

REPLY_BYTES = 200 * 1024 * 1024


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    cap = int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_MAX_RESPONSE_BYTES
    before = peak_mib()
    errors: list[str] = []
    started = time.monotonic()
    for status, call in ((200, "chat"), (429, "embed"), (200, "stream")):
        with RawServer(huge(status=status, size=REPLY_BYTES)) as server:
            settings = llmport.Settings(
                provider="openai",
                base_url=f"{server.url}/v1",
                api_key="k",
                chat_model="m",
                embedding_model="e",
                max_response_bytes=cap,
                max_retries=2,
            )
            with llmport.build_client(settings) as client:
                try:
                    if call == "chat":
                        client.chat("hi")
                    elif call == "embed":
                        client.embed(["hi"])
                    else:
                        list(client.stream("hi"))
                except llmport.LLMPortError as error:
                    errors.append(f"{call}:{type(error).__name__}:{server.requests}")
    print(
        json.dumps(
            {
                "cap_mib": round(cap / 2**20, 1),
                "reply_mib": REPLY_BYTES // 2**20,
                "peak_rss_before_mib": round(before, 1),
                "peak_rss_after_mib": round(peak_mib(), 1),
                "growth_mib": round(peak_mib() - before, 1),
                "seconds": round(time.monotonic() - started, 2),
                "errors": errors,
            }
        )
    )


if __name__ == "__main__":
    main()
