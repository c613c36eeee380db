"""httpx2's and httpcore2's private names that llmport relies on: all there, and a rename fails loudly."""

from __future__ import annotations

import re
from importlib.metadata import requires, version
from pathlib import Path
from typing import Any

import httpcore2
import httpx2
import pytest
from packaging.requirements import Requirement

import llmport
from llmport.adapters.llm.wire import _httpx_private
from llmport.adapters.llm.wire.transport import guard_user_client, guarded_http_client
from llmport.domain.errors import ConfigurationError


def _pinned(name: str) -> Requirement:
    found = [Requirement(line) for line in requires("llmport") or () if Requirement(line).name == name]
    assert len(found) == 1, f"pyproject.toml's dependencies must name {name} once"
    return found[0]


def test_every_private_name_is_there_in_the_installed_httpx2_and_httpcore2() -> None:
    _httpx_private.check()


@pytest.mark.parametrize("library", ["httpx2", "httpcore2"])
def test_the_installed_release_is_in_the_range_pyproject_pins_and_the_module_was_tested_on(
    library: str,
) -> None:
    requirement = _pinned(library)
    assert str(requirement.specifier) == ",".join(sorted(_httpx_private.TESTED.split(",")))
    assert requirement.specifier.contains(version(library), prereleases=True)


def test_llmports_own_client_builds_every_transport_limited() -> None:
    client = guarded_http_client(timeout=5.0)
    try:
        transports = _httpx_private.client_transports(client)
        assert transports
        backends = [type(_httpx_private.network_backend(t)).__name__ for t in transports]  # type: ignore[arg-type]
        assert backends == ["_LimitedBackend"] * len(transports)
    finally:
        client.close()


class _PoolRenamed(httpx2.HTTPTransport):
    """What a release that renamed ``HTTPTransport._pool`` builds (made by hand: nothing patched)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.connection_pool = self.__dict__.pop("_pool")

    def close(self) -> None:
        self.connection_pool.close()


class _MountsRenamed(httpx2.Client):
    """What a release that renamed ``Client._mounts`` builds."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.mounts_by_pattern = self.__dict__.pop("_mounts")

    def close(self) -> None:
        self._mounts = self.mounts_by_pattern
        super().close()


def test_a_renamed_pool_fails_loudly_naming_the_attribute_and_the_version() -> None:
    client = httpx2.Client(transport=_PoolRenamed())
    try:
        with pytest.raises(ConfigurationError) as caught:
            guard_user_client(client)
    finally:
        client.close()
    message = str(caught.value)
    assert f"httpx2 {httpx2.__version__} has no HTTPTransport._pool" in message
    assert f"httpx2{_httpx_private.TESTED}" in message


def test_renamed_mounts_fail_loudly_naming_the_attribute_and_the_version() -> None:
    client = _MountsRenamed()
    try:
        with pytest.raises(ConfigurationError, match=rf"httpx2 {httpx2.__version__} has no Client\._mounts"):
            guard_user_client(client)
    finally:
        client.close()


def test_a_renamed_network_backend_fails_loudly_naming_httpcore2_and_its_version() -> None:
    transport = httpx2.HTTPTransport()
    pool: Any = transport._pool  # the test builds the renamed pool by hand, as a new release would
    pool.backend = pool.__dict__.pop("_network_backend")
    try:
        with pytest.raises(
            ConfigurationError,
            match=rf"httpcore2 {httpcore2.__version__} has no ConnectionPool\._network_backend",
        ):
            _httpx_private.set_network_backend(transport, pool.backend)
        assert not hasattr(pool, "_network_backend")  # not written under the old name
    finally:
        transport.close()


def test_no_other_module_that_imports_httpx_names_one_of_its_privates() -> None:
    package = Path(llmport.__file__).parent
    privates = re.compile(
        r"\._pool\b|(?<!\w)_network_backend|\._mounts|\._transport\b|_init_(proxy_)?transport"
    )
    imports_httpx = re.compile(r"^\s*(import|from) (httpx2|httpcore2)\b", re.M)
    found = []
    for path in package.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if path.name != "_httpx_private.py" and imports_httpx.search(text):
            found += [f"{path.relative_to(package)}: {m.group(0)}" for m in privates.finditer(text)]
    assert found == []
