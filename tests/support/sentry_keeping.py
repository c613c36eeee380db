"""Real sentry-sdk, at its defaults, with a transport that keeps every envelope; and what to scan.

Works on sentry-sdk 2.x and 3.x: 2.x records frame locals by ``include_local_variables``
(default True), 3.x by ``data_collection["stack_frame_variables"]`` (default True, and no
``include_local_variables`` option any more). Either way the envelopes hold every frame's locals,
serialized as sentry does it: repr of plain objects, the contents of mappings and sequences.
"""

from __future__ import annotations

import pickle
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

__all__ = [
    "KeepingTransport",
    "assert_recording_defaults",
    "chain",
    "error_texts",
    "frame_locals_recorded",
    "frames",
    "keeping_sentry",
    "occurrences",
]


class KeepingTransport(Transport):
    """A sentry transport that keeps every envelope in memory and sends nothing anywhere."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def events(self) -> list[dict[str, Any]]:
        return [
            item.payload.json
            for envelope in self.envelopes
            for item in envelope.items
            if item.type == "event" and item.payload.json is not None
        ]

    def serialized(self) -> list[bytes]:
        return [envelope.serialize() for envelope in self.envelopes]


def frame_locals_recorded(options: dict[str, Any]) -> bool:
    """Whether the installed sentry-sdk, with these client options, records every frame's locals."""
    if "include_local_variables" in options:  # sentry-sdk 2.x
        return options["include_local_variables"] is True
    # sentry-sdk 3.x: True records all of them; a dict would filter them by name.
    return options["data_collection"]["stack_frame_variables"] is True


def assert_recording_defaults(options: dict[str, Any]) -> None:
    """The defaults a leak test relies on: frame locals recorded, no PII opt-in, nothing cut short."""
    assert frame_locals_recorded(options), f"sentry-sdk {sentry_sdk.VERSION} records no frame locals"
    # 2.x only: 3.x replaced send_default_pii by data_collection (whose defaults record frame locals).
    assert options.get("send_default_pii") in (None, False)
    limit = options.get("max_value_length")
    assert limit is None or limit >= 1024, limit


@contextmanager
def keeping_sentry() -> Iterator[KeepingTransport]:
    """sentry-sdk initialised with its defaults and a keeping transport; reset afterwards."""
    transport = KeepingTransport()
    sentry_sdk.get_isolation_scope().clear_breadcrumbs()
    sentry_sdk.init(dsn="http://public@127.0.0.1:1/1", transport=transport)
    client = sentry_sdk.get_client()
    assert_recording_defaults(client.options)
    try:
        yield transport
    finally:
        client.close()
        sentry_sdk.get_global_scope().set_client(None)
        sentry_sdk.get_isolation_scope().clear_breadcrumbs()


def chain(error: BaseException) -> list[BaseException]:
    """The error and every exception reachable through __cause__ and __context__."""
    seen: dict[int, BaseException] = {}
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen[id(current)] = current
        pending += [current.__cause__, current.__context__]
    return list(seen.values())


def error_texts(error: BaseException) -> list[bytes]:
    """What a person or a tool may get from the error: str, repr, pickle, the formatted traceback."""
    texts = ["".join(traceback.format_exception(error)).encode()]
    for link in chain(error):
        texts += [str(link).encode(), repr(link).encode(), *(repr(arg).encode() for arg in link.args)]
        try:
            texts.append(pickle.dumps(link))
        except Exception as exc:  # an unpicklable SDK exception would still be scanned as text
            texts.append(repr(exc).encode())
    return texts


def occurrences(secrets: dict[str, str], blobs: list[bytes]) -> dict[str, int]:
    """How often each secret occurs in ``blobs``, by the secret's name."""
    return {name: sum(blob.count(secret.encode()) for blob in blobs) for name, secret in secrets.items()}


def frames(event: dict[str, Any]) -> list[dict[str, Any]]:
    """Every stack frame of an event, over all its exceptions (the error and its chain)."""
    return [
        frame
        for value in event.get("exception", {}).get("values", [])
        for frame in (value.get("stacktrace") or {}).get("frames", [])
    ]
