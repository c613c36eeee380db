"""The examples of examples/azure_docs (and autogen's Entra ID ones) recorded to cassettes, then replayed.

Shared by ``tests/integration/test_cassette_examples.py`` and ``benchmarks/cassette_examples.py``.
The servers answer as in the examples' own tests (``answering`` of test_azure_doc_examples.py,
loaded from that file); each example runs as ``__main__`` with only its environment set, under a
cassette. Replaying needs no server: the environment then points at a closed port.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import runpy
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from loopback import LoopbackServer
from token_endpoint import TokenEndpoint, point_managed_identity_at

from llmport.testing import Cassette, cassette

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
#: Where nothing listens: a replay that sent anything would fail to connect.
CLOSED = "http://127.0.0.1:9"
SHAPES = ("openai", "azure", "azure_v1")


def _doc_examples() -> ModuleType:
    """tests/integration/test_azure_doc_examples.py: its servers' answers, its environments."""
    path = ROOT / "tests" / "integration" / "test_azure_doc_examples.py"
    spec = importlib.util.spec_from_file_location("azure_doc_examples_answers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DOCS = _doc_examples()
KEY: str = DOCS.KEY


@dataclass(frozen=True)
class Case:
    """One example on one URL shape: its file, its arguments, whether it signs in with Entra ID."""

    example: str
    shape: str
    argv: tuple[str, ...] = ()
    entra: bool = False
    unreachable: bool = False  # the server is never there: the refused connection is what is recorded

    @property
    def name(self) -> str:
        words = [self.example.removesuffix(".py").replace("/", "-"), self.shape, *self.argv]
        return "_".join(word.replace(" ", "-") for word in words) + (
            "_unreachable" if self.unreachable else ""
        )


def cases() -> list[Case]:
    """Every example of examples/azure_docs on every shape, and autogen's Entra ID ones on Azure's."""
    found = []
    for shape in SHAPES:
        for path in sorted((EXAMPLES / "azure_docs").glob("*.py")):
            argv = ("we are overloaded",) if path.name == "errors.py" else ()
            found.append(Case(f"azure_docs/{path.name}", shape, argv))
        found.append(Case("azure_docs/errors.py", shape, unreachable=True))
    for shape in SHAPES[1:]:
        found += [
            Case(f"autogen/{name}", shape, entra=True)
            for name in ("entra_token_provider.py", "declarative.py")
        ]
    return found


def run_example(case: Case, url: str) -> str:
    """Run the example as ``__main__`` with only its environment variables set; return what it printed."""
    env = DOCS.shape_env(case.shape, url, key=None if case.entra else KEY)
    saved_env, saved_argv = dict(os.environ), sys.argv
    for variable in list(os.environ):
        if (
            variable.startswith(("OPENAI_", "AZURE_OPENAI_", "LLMPORT_"))
            and variable != "LLMPORT_RECORD_MODE"
        ):
            del os.environ[variable]
    os.environ.update(env)
    sys.argv = [str(EXAMPLES / case.example), *case.argv]
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(str(EXAMPLES / case.example), run_name="__main__")
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.argv = saved_argv
    return out.getvalue()


@contextlib.contextmanager
def servers(case: Case) -> Iterator[tuple[str, list[str]]]:
    """The loopback (and the token endpoint, for Entra ID) as the example's tests run them: its URL,
    and the tokens issued."""
    if case.unreachable:
        yield CLOSED, []
        return
    with contextlib.ExitStack() as stack:
        issued: list[str] = []
        if case.entra:
            endpoint = stack.enter_context(TokenEndpoint())
            point_managed_identity_at(endpoint, stack.enter_context(pytest.MonkeyPatch.context()))
            issued = endpoint.issued
        loopback = stack.enter_context(
            LoopbackServer(api_key=KEY, accept_token=lambda token: token.startswith("token-"))
        )
        loopback.respond_with(lambda _index, recorded: DOCS.answering(recorded))
        yield loopback.url, issued


def record(case: Case, path: Path) -> tuple[str, list[str]]:
    """Record ``case`` to ``path`` with the servers up; return its output and the tokens issued."""
    with servers(case) as (url, issued), cassette(path, mode="record"):
        return run_example(case, url), list(issued)


def replay(case: Case, path: Path) -> tuple[str, Cassette]:
    """Replay ``case`` from ``path``, pointed at a closed port; return its output and the cassette."""
    with cassette(path, mode="replay") as replaying:
        return run_example(case, CLOSED), replaying


def leaks(path: Path, secrets: Mapping[str, str]) -> list[str]:
    """The names of ``secrets`` whose value is in the file, and ``jwt`` for a JWT-shaped string."""
    text = path.read_text(encoding="utf-8")
    found = [name for name, value in secrets.items() if value in text]
    return found + (["jwt"] if "eyJ" in text else [])
