"""A batch job in its own process, to be killed: ``start`` submits N prompts, ``resume`` picks the job up.

Either way it then waits for the job and writes every result, in order, one JSON line each, to
``OUT`` (``{"row", "text"}`` or ``{"row", "error"}``). Run by tests/integration/test_batch_crash.py
and benchmarks/batch_crash.py, which kill it with SIGKILL at chosen moments.

    python batch_worker.py URL KEY STATE_DIR JOB_ID OUT start N MAX_REQUESTS
    python batch_worker.py URL KEY STATE_DIR JOB_ID OUT resume
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from dependency_injector import providers

from llmport import LLMPortError, Settings, build_client
from llmport.adapters.batch.file_state import FileStateStore
from llmport.adapters.batch.files_api import BatchAdapter
from llmport.domain.batch import BatchLimits
from llmport.testing import Container


def main(argv: list[str]) -> int:
    url, key, state_dir, job_id, out, action, *rest = argv
    max_requests = int(rest[1]) if action == "start" else 50_000
    settings = Settings(provider="openai", base_url=f"{url}/v1", api_key=key, chat_model="gpt-4o-mini")
    container = Container(settings=settings)
    container.batch_store.override(providers.Object(FileStateStore(state_dir)))
    limits = BatchLimits(max_requests=max_requests, max_bytes=200 * 1024 * 1024)
    container.batch_port.override(
        providers.Callable(lambda adapter: BatchAdapter(adapter, limits=limits), container.llm_adapter)
    )
    started = time.perf_counter()
    with build_client(settings, container) as client:
        if action == "start":
            job = client.batch.chat([f"p{i}" for i in range(int(rest[0]))], job_id=job_id)
        else:
            job = client.batch.resume(job_id)
        results = job.results(poll_interval=0.01, max_poll_interval=0.05)
        rows = [
            {"row": i, "error": f"{type(r).__name__}: {r}"}
            if isinstance(r, LLMPortError)
            else {"row": i, "text": r.text}
            for i, r in enumerate(results)
        ]
        Path(out).write_text("".join(json.dumps(row) + "\n" for row in rows))
    print(json.dumps({"seconds": time.perf_counter() - started, "rows": len(rows)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
