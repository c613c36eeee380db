"""Test helpers for llmport's users: fakes, clients wired to them, the container, overrides, cassettes."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

from dependency_injector import containers, providers

from .adapters.budget.memory import MemoryBudgetStore
from .adapters.fakes import FakeChat, FakeCredential, FakeEmbeddings, FakeTokenCounter
from .adapters.recording import hook
from .adapters.recording.cassette import MODES, Cassette, Mode
from .adapters.recording.hook import CassetteMissError, NetworkBlockedError, RecordingError
from .container.root import Container, build_client
from .domain.budget import Budget
from .domain.ports import ChatPort, EmbeddingPort
from .services.client import Client
from .services.client_hooks import composition_root, swap_services
from .services.routing.router import Deployment, Router
from .settings.model import Settings

# Router, Deployment, Budget and MemoryBudgetStore: to build a router by hand over fakes, for tests of
# an application's failover (README, "Several deployments"). Container and container_of: to override
# any provider (sleep, clock, an adapter) of a container, or of the one that built a client.
__all__ = [
    "Budget",
    "Cassette",
    "CassetteMissError",
    "Container",
    "Deployment",
    "FakeChat",
    "FakeCredential",
    "FakeEmbeddings",
    "FakeTokenCounter",
    "MemoryBudgetStore",
    "NetworkBlockedError",
    "RecordingError",
    "Router",
    "cassette",
    "container_of",
    "fake_client",
    "override",
]

_Target = TypeVar("_Target", Client, Container)

_BUILT = "a Client built by llmport (from_env, from_dict, build_client, the Flask or Django integration)"

# Overrides change shared providers and a shared client; one at a time keeps their stacks in order.
_override_lock = threading.RLock()


def fake_client(
    chat: FakeChat | None = None, embeddings: FakeEmbeddings | None = None, **settings: Any
) -> Client:
    """Build a Client whose adapters are the given fakes (new ones when omitted).

    The rest of the stack is real: validation, retries, logging and error handling run as in
    production, so a test sees what the application would. Inspect ``chat.requests`` afterwards.

    Args:
        chat: the FakeChat to answer chat and stream calls.
        embeddings: the FakeEmbeddings to answer embed calls.
        settings: further settings by field name (e.g. ``max_retries=0``).

    Raises:
        ConfigurationError: a setting is invalid.
    """
    resolved = Settings(provider="fake", **settings)
    container = Container(settings=resolved)
    container.chat_adapter.override(providers.Object(chat or FakeChat()))
    container.embedding_adapter.override(providers.Object(embeddings or FakeEmbeddings()))
    return build_client(resolved, container)


def container_of(client: Client) -> Container:
    """The container that built ``client``: override its providers to change what it resolves next.

    Its ``chat_service`` / ``embedding_service`` are what the client calls; ``sleep``, ``clock``,
    ``wall_clock`` and ``rand`` are injected time and jitter. To swap the adapters of a client that
    is already running, use :func:`override`.

    Raises:
        TypeError: the client was not built by llmport's container (it was assembled by hand).
    """
    container = _as_container(composition_root(client))
    if container is None:
        raise TypeError(f"container_of() needs {_BUILT}; this Client was assembled by hand")
    return container


@contextmanager
def override(
    target: _Target, *, chat: ChatPort | None = None, embeddings: EmbeddingPort | None = None
) -> Iterator[_Target]:
    """Swap adapters in a running client (e.g. a Flask or Django app's) or container, then restore them.

    Inside the block the container's ``chat_adapter`` / ``embedding_adapter`` are overridden and
    its services resolve to new ones over the given adapters; given a Client, that client calls
    those new services. On exit the overrides are removed and the client gets back its very own
    services. Validation, retries and logging stay real. Nested overrides restore in order;
    calls from other threads see either the old or the new adapters, never a mix within a call.

    Args:
        target: a Client built by llmport (``app.extensions["llmport"]``, ``get_client()``...), or a
            Container, whose later resolutions (not clients built before) see the overrides.
        chat: the adapter to answer chat and stream calls, e.g. a FakeChat.
        embeddings: the adapter to answer embed calls, e.g. a FakeEmbeddings.

    Raises:
        TypeError: neither adapter was given, or the client was not built by llmport's container.
    """
    if chat is None and embeddings is None:
        raise TypeError("override() needs chat=, embeddings= or both")
    client = target if isinstance(target, Client) else None
    container = _as_container(composition_root(target) if isinstance(target, Client) else target)
    if container is None:
        raise TypeError(f"override() needs {_BUILT} or a Container; this Client was assembled by hand")
    with ExitStack() as restore, _override_lock:
        chat_service = embedding_service = None
        if chat is not None:
            chat_service = _override_service(restore, container.chat_adapter, container.chat_service, chat)
        if embeddings is not None:
            embedding_service = _override_service(
                restore, container.embedding_adapter, container.embedding_service, embeddings
            )
        if client is not None:
            previous = swap_services(client, chat_service, embedding_service)
            restore.callback(swap_services, client, *previous)
        # The stack unwinds on exit: the client first, then the providers, newest override first.
        unwind = restore.pop_all()
    try:
        yield target
    finally:
        with _override_lock:
            unwind.close()


#: The environment variable that sets every cassette's mode for a run (``replay`` on CI).
RECORD_MODE_VARIABLE = "LLMPORT_RECORD_MODE"


class _Run:
    """What the pytest plugin set for this run: ``--llmport-record-mode`` (it wins over the
    variable) and the network guard it installed."""

    mode: Mode | None = None
    guard: hook.NetworkGuard | None = None


def _forced_mode() -> Mode | None:
    """The run's mode: the pytest option's, else the environment variable's (checked), else None."""
    if _Run.mode is not None:
        return _Run.mode
    value = os.environ.get(RECORD_MODE_VARIABLE, "").strip().lower()
    if not value:
        return None
    for known in MODES:
        if value == known:
            return known
    raise ValueError(f"{RECORD_MODE_VARIABLE} must be once, replay or record, got {value!r:.20}")


@contextmanager
def cassette(
    path: str | os.PathLike[str], *, mode: Mode | None = None, secrets: Iterable[str] = ()
) -> Iterator[Cassette]:
    """Record the block's llmport traffic to ``path``, or replay it from there: real replies, offline.

    Every llmport client of the process goes through it, whether built before or inside the block,
    from any thread: OpenAI, Azure classic and v1; chat, streams (event by event), the Responses
    API, embeddings, error replies (a 429 with its Retry-After) and refused connections. Requests
    match on method, path and body (canonical JSON), identical ones in recorded order. Nothing
    secret is written: credential headers, secret query parameters (SAS ``sig``...), JWTs, token
    fields, the keys and tokens requests carried, and ``secrets``. In replay an Entra ID client is
    handed a stand-in token: no identity platform is asked. The file is written when the block
    ends without an exception.

    Args:
        path: the JSON file (its folder is created when recording).
        mode: ``once`` (record if the file is missing, else replay; the default), ``replay`` (never
            send anything) or ``record`` (send everything, write the file anew). The run's mode,
            ``--llmport-record-mode`` or ``LLMPORT_RECORD_MODE``, wins over it.
        secrets: more values never to be written (with a trailing newline or not).

    Raises:
        CassetteMissError: in replay, a request with no recording (raised inside the block by the
            call that sent it; nothing was sent). The message names the nearest recording.
        FileNotFoundError: mode ``replay`` and no file at ``path``.
        ValueError: an unknown mode, or a file that is not an llmport cassette.
    """
    recorder = Cassette(path, _forced_mode() or mode or "once", secrets)
    hook.install(recorder)
    try:
        yield recorder
    finally:
        hook.uninstall(recorder)
    recorder.save()


def _as_container(value: object) -> Container | None:
    # Instantiating a DeclarativeContainer gives a DynamicContainer that names its class as parent.
    parent = getattr(value, "declarative_parent", None)
    if isinstance(value, containers.Container) and isinstance(parent, type) and issubclass(parent, Container):
        return cast(Container, value)
    return None


def _override_service(
    restore: ExitStack, adapter: providers.Provider[Any], service: providers.Provider[Any], fake: object
) -> Any:
    restore.enter_context(adapter.override(providers.Object(fake)))
    # A twin of the service provider, resolved now against the overridden adapter. The original
    # singleton keeps its instance, so removing the override gives back exactly that service.
    assert isinstance(service, providers.BaseSingleton)  # the container declares services so
    twin = type(service)(service.provides, *service.args, **service.kwargs)()
    restore.enter_context(service.override(providers.Object(twin)))
    return twin


# The pytest plugin (entry point ``pytest11: llmport = "llmport.testing"``). pytest is optional:
# without it this module still gives the fakes, fake_client and override.
try:
    import pytest
except ModuleNotFoundError:  # pragma: no cover - exercised only where pytest is absent
    pass
else:
    _GUARD_HINT = (
        "Record it: wrap the code in `with llmport.testing.cassette(path):` (or use the llmport_cassette "
        "fixture), then run once without --llmport-block-network, where the servers can be reached "
        "(--llmport-record-mode=once), and commit the cassette file."
    )

    def pytest_addoption(parser: pytest.Parser) -> None:
        """The plugin's options: the run's record mode, and the network guard."""
        group = parser.getgroup("llmport")
        group.addoption(
            "--llmport-record-mode",
            choices=MODES,
            default=None,
            help=f"every llmport cassette's mode for this run (else ${RECORD_MODE_VARIABLE}, else once)",
        )
        group.addoption(
            "--llmport-block-network",
            action="store_true",
            help="fail any llmport request that is neither faked nor replayed from a cassette",
        )

    def pytest_configure(config: pytest.Config) -> None:
        """Register the marker; apply the run's record mode and the network guard."""
        config.addinivalue_line(
            "markers",
            "llmport_cassette(path=None, *, mode=None, secrets=()): run the test under a cassette "
            "(default path: cassettes/<module>/<test>.json beside the test file)",
        )
        _Run.mode = config.getoption("llmport_record_mode", None)
        if config.getoption("llmport_block_network", False):
            _Run.guard = hook.NetworkGuard(_GUARD_HINT)
            hook.install(_Run.guard)

    def pytest_unconfigure(config: pytest.Config) -> None:
        """Undo what ``pytest_configure`` applied."""
        _Run.mode = None
        if _Run.guard is not None:
            hook.uninstall(_Run.guard)
            _Run.guard = None

    _FAILED = pytest.StashKey[bool]()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        """Note a test that failed, so that its cassette does not keep half a recording."""
        report = yield
        if report.when == "call" and report.failed:
            item.stash[_FAILED] = True
        return report

    @pytest.fixture
    def llmport_cassette(request: pytest.FixtureRequest) -> Iterator[Cassette]:
        """The test runs under a cassette named after it: ``cassettes/<module>/<test>.json`` beside it.

        The ``llmport_cassette`` marker gives another path (relative to the test file), a ``mode`` or
        ``secrets``; a test with the marker gets the cassette without asking for this fixture. A
        test that fails writes nothing: its next run records again.
        """
        marker = request.node.get_closest_marker("llmport_cassette")
        args = marker.args if marker else ()
        options = dict(marker.kwargs) if marker else {}
        folder = Path(str(request.node.path)).parent
        name = options.pop("path", args[0] if args else None)
        if name is None:
            module = Path(str(request.node.path)).stem
            name = Path("cassettes", module, re.sub(r"[^\w.\-]+", "_", request.node.name) + ".json")
        with cassette(folder / name, **options) as recorder:
            yield recorder
            if request.node.stash.get(_FAILED, False):
                recorder.discard()  # a test that failed half-way records nothing: the next run records anew

    @pytest.fixture(autouse=True)
    def _llmport_cassette_marker(request: pytest.FixtureRequest) -> None:
        """A test marked ``llmport_cassette`` runs under its cassette."""
        if request.node.get_closest_marker("llmport_cassette") is not None:
            request.getfixturevalue("llmport_cassette")

    @pytest.fixture
    def llmport_fake_chat() -> FakeChat:
        """A new FakeChat: script replies with ``push(...)``, read ``requests`` afterwards."""
        return FakeChat()

    @pytest.fixture
    def llmport_fake_embeddings() -> FakeEmbeddings:
        """A new FakeEmbeddings with stable vectors; read ``requests`` afterwards."""
        return FakeEmbeddings()

    @pytest.fixture
    def llmport_client(
        llmport_fake_chat: FakeChat, llmport_fake_embeddings: FakeEmbeddings
    ) -> Iterator[Client]:
        """A Client over ``llmport_fake_chat`` and ``llmport_fake_embeddings``, closed after the test.

        Retries are off (``max_retries=0``) so that a scripted error reaches the code under test
        at once; build your own with ``fake_client(...)`` to exercise retries.
        """
        client = fake_client(llmport_fake_chat, llmport_fake_embeddings, max_retries=0)
        yield client
        client.close()
