"""Clients built by the web integrations are closed once when the process exits."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# The probe's own exit hook is registered first, so it runs last (atexit is LIFO) and sees
# whether llmport's hook has closed the clients.
FLASK_APP_EXITS = """
import atexit
from flask import Flask
from llmport.entrypoints.flask import LLMPort

apps = []
atexit.register(lambda: print("at exit:", [repr(app.extensions["llmport"]) for app in apps]))
extension = LLMPort()
for name in ("one", "two"):
    app = Flask(name)
    app.config["LLMPORT"] = {"provider": "fake"}
    extension.init_app(app)
    apps.append(app)
print("running:", [repr(app.extensions["llmport"]) for app in apps])
"""

CLOSED_ONCE = """
import atexit
import llmport
from llmport.entrypoints.inbound import close_at_exit
from llmport.container.root import Container

closes = []
atexit.register(lambda: print("closes:", len(closes)))
settings = llmport.Settings(provider="fake")
container = Container(settings=settings)
client = llmport.Client(
    container.chat_service(), container.embedding_service(), on_close=lambda: closes.append(1)
)
close_at_exit(client)
close_at_exit(client)  # registering again must not close twice
client.close()  # and an early close leaves nothing for the exit hook to do
"""


def run(script: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_flask_clients_are_open_while_running_and_closed_at_exit() -> None:
    running, at_exit = run(FLASK_APP_EXITS).splitlines()
    assert running.startswith("running:") and "closed" not in running
    assert at_exit.count("closed") == 2


def test_a_client_is_closed_once_however_often_it_was_registered() -> None:
    assert run(CLOSED_ONCE).strip() == "closes: 1"
