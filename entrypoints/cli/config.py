"""The command line's settings: which file, table or environment they come from, and `config show`."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any, TextIO

from ...domain.call_options import is_credential_header
from ...domain.errors import ConfigurationError
from ...settings import ENV_VARS, ROUTING_KEYS, SECRETS, Settings, read_unchecked

__all__ = ["UsageError", "config_path", "config_show", "load_settings", "provider_url"]

_FAKE_NOTE = (
    "llmport: no provider configured (set OPENAI_API_KEY, or AZURE_OPENAI_ENDPOINT, or pass "
    "--config FILE); using the offline fake provider\n"
)
_HIDDEN = "**********"


class UsageError(Exception):
    """The command line was used in a way it does not support; the message says how to use it."""


def config_path(config: str | None, client: str | None) -> str | None:
    """The settings file to read: ``--config``, else ``$LLMPORT_CONFIG``, else None (the environment).

    Raises:
        UsageError: ``--client`` was given without a file to pick the client from.
    """
    path = config or os.environ.get("LLMPORT_CONFIG") or None
    if client is not None and path is None:
        raise UsageError(
            f"--client {client} needs --config FILE (or LLMPORT_CONFIG): it picks [clients.{client}] "
            "of that file"
        )
    return path


def load_settings(config: str | None, client: str | None, err: TextIO) -> Settings:
    """The settings the command runs with; the offline fake, said on ``err``, when nothing is set.

    Raises:
        UsageError: see :func:`config_path`.
        ConfigurationError: the file or the environment holds a bad or missing setting.
    """
    path = config_path(config, client)
    if path:
        return Settings.from_toml(path, name=client or "default")
    if not any(os.environ.get(name) for name in ENV_VARS):
        err.write(_FAKE_NOTE)
        return Settings(provider="fake", sources={"provider": "no configuration found"})
    return Settings.from_env()


def config_show(config: str | None, client: str | None, out: TextIO, err: TextIO) -> int:
    """Print the effective settings and their sources, secrets hidden; 2 when they do not validate.

    A bad configuration is when the table is needed most: then it shows what was read, unchecked,
    followed by the error.
    """
    try:
        settings = load_settings(config, client, err)
    except ConfigurationError as exc:
        path = config_path(config, client)
        try:
            values, sources = read_unchecked(path, name=client or "default")
        except ConfigurationError:
            values, sources = {}, {}  # the file itself is unreadable: the error says why
        if values:
            _print_table(out, _unchecked_rows(values, sources))
        err.write(f"llmport: error: {exc}\n")
        return 2
    shown = settings.redacted()
    rows = [(key, value, settings.source(key)) for key, value in shown.items() if key != "deployments"]
    for deployment in settings.routes:
        # One row per setting of each deployment: where it is, how it is routed, where each came from.
        for key, value in deployment.redacted().items():
            source = f"{settings.source('deployments')} deployments[{deployment.name}]"
            if key not in ROUTING_KEYS:
                source = deployment.settings.source(key)
            rows.append((f"deployments[{deployment.name}].{key}", value, source))
    _print_table(out, rows)
    return 0


def provider_url(settings: Settings) -> str | None:
    """The URL the client sends to (never holding a key: settings refuse credentials in URLs)."""
    if settings.provider == "openai":
        return settings.base_url or "https://api.openai.com/v1"
    if settings.provider == "azure_v1":
        return f"{settings.endpoint}/openai/v1"
    return settings.endpoint


def _unchecked_rows(values: dict[str, Any], sources: dict[str, str]) -> list[tuple[str, object, str]]:
    rows: list[tuple[str, object, str]] = []
    for f in dataclasses.fields(Settings):
        if f.name == "sources":
            continue
        if f.name in values:
            value = values[f.name]
            if f.name in SECRETS and value not in (None, ""):
                value = _HIDDEN
            elif f.name in ("base_url", "endpoint") and isinstance(value, str):
                value = _without_userinfo(value)
            elif f.name == "default_headers":
                value = _headers_shown(value)
            rows.append((f.name, value, sources.get(f.name, "keyword")))
        elif f.name != "name":
            rows.append((f.name, f.default, "default"))
    return rows


def _headers_shown(value: object) -> object:
    # Unchecked: a mapping shows its credential headers hidden; text (JSON that may not parse) not at all.
    if isinstance(value, Mapping):
        return {name: _HIDDEN if is_credential_header(str(name)) else item for name, item in value.items()}
    return _HIDDEN if value else value


def _without_userinfo(url: str) -> str:
    # Settings refuse a user or password in a URL; the refused URL must not be echoed with them.
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = f"{_HIDDEN}@{authority.rpartition('@')[2]}"
    return f"{scheme}{sep}{authority}{slash}{path}"


def _print_table(out: TextIO, rows: list[tuple[str, object, str]]) -> None:
    width = max(len(key) for key, _, _ in rows)
    for key, value, source in rows:
        out.write(f"{key:<{width}}  {_shown(value):<48}  {source}\n")


def _shown(value: object) -> str:
    # A value with a newline or padding (the mistake being shown, often) is quoted so it stays visible.
    if isinstance(value, str) and (not value.isprintable() or value != value.strip() or not value):
        return repr(value)
    return str(value)
