"""Fork safety: the parts of every client built here are told, in a forked child, to drop the parent's.

A pre-fork server (gunicorn --preload, uWSGI without lazy-apps) builds the client in the parent,
often makes a call there, then forks workers. A child that kept using the parent's pooled sockets
would read replies meant for another process. So the parts of every client built here that hold
sockets, threads or locks (adapters, credential, token cache, batch pool) are told in the child,
right after the fork, to drop what is the parent's. And since every ThreadSafeSingleton of
dependency_injector shares one class-level lock, held while any of them is built, a fork waits for
a build under way to finish: a child forked while another thread held it could never build a client.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterable
from typing import Any, cast

from dependency_injector import providers

from ..domain.ports import ForkAware

__all__ = ["install_fork_hooks", "survive_fork"]

_FORK_AWARE: weakref.WeakKeyDictionary[object, tuple[ForkAware, ...]] = weakref.WeakKeyDictionary()
_FORK_AWARE_ITSELF: weakref.WeakSet[ForkAware] = weakref.WeakSet()
_FORK_HOOK_LOCK = threading.Lock()
_fork_hooks_installed = False


def _after_fork_in_child() -> None:
    for parts in list(_FORK_AWARE.values()):
        for part in parts:
            part.after_fork()
    for aware in list(_FORK_AWARE_ITSELF):
        aware.after_fork()


def install_fork_hooks() -> None:
    """Install the process-wide fork hooks, once, before the first client is built."""
    global _fork_hooks_installed  # noqa: PLW0603 - one set of hooks per process
    with _FORK_HOOK_LOCK:
        if _fork_hooks_installed or not hasattr(os, "register_at_fork"):
            return
        # Not in dependency_injector's stubs: the class-level RLock every ThreadSafeSingleton copies.
        building = cast(Any, providers.ThreadSafeSingleton).storage_lock
        os.register_at_fork(
            before=building.acquire, after_in_parent=building.release, after_in_child=building.release
        )
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _fork_hooks_installed = True


def survive_fork(owner: ForkAware, parts: Iterable[object] = ()) -> None:
    """Have ``owner`` and those of ``parts`` that are ForkAware told about a fork, for as long as
    ``owner`` lives (each part once)."""
    _FORK_AWARE_ITSELF.add(owner)
    unique = {id(part): part for part in parts if isinstance(part, ForkAware)}
    if unique:
        _FORK_AWARE[owner] = tuple(unique.values())
