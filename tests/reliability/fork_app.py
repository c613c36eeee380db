"""The Flask example (examples/flask_app.py) as a pre-fork server loads it, for test_fork.py.

``gunicorn --preload`` imports this module once, in the master, and then forks the workers. Like an
app whose import runs a health check, it makes one llmport call here, so the master holds a pooled
keep-alive connection to the provider when it forks. The provider is the loopback server the test
started (Azure classic URL shape): ``LLMPORT_FORK_TEST_URL`` is its base URL and
``LLMPORT_FORK_TEST_KEY`` its API key. Each response names the process that served it in an
``X-Worker-Pid`` header.
"""

from __future__ import annotations

import os

from flask import Response
from flask_app import create_app

from llmport.entrypoints.flask import get_client

app = create_app(
    {
        "LLMPORT": {
            "provider": "azure",
            "endpoint": os.environ["LLMPORT_FORK_TEST_URL"],
            "api_version": "2024-10-21",
            "api_key": os.environ["LLMPORT_FORK_TEST_KEY"],
            "chat_model": "gpt-4o-mini",
            # Every failure counts: a retry could hide a reply read off a shared socket.
            "max_retries": 0,
            "timeout": 3.0,
        }
    }
)


@app.after_request
def name_the_worker(response: Response) -> Response:
    response.headers["X-Worker-Pid"] = str(os.getpid())
    return response


# The warm-up / health check, in the master before the fork: a pooled connection now exists there.
with app.app_context():
    WARM_UP = get_client().chat(f"warmup-{os.getpid()}-0").text
