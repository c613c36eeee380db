"""Which recording answers a request: same method, path and body (as canonical JSON), in recorded order.

Headers are not compared: the ones that shape a reply are in the path and body, and the others
(user agents, idempotency keys, client request ids, the SDK's ``x-stainless-*``) change from run to
run. A request none matches is reported with the nearest recording and what differs from it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from .exchange import Entry

__all__ = ["Key", "differences", "key_of", "nearest"]

#: method, path, body: what a recording is found by.
Key = tuple[str, str, str]
_SHOWN = 60  # characters of a differing value shown in a message
_MAX_DIFFERENCES = 5


def key_of(request: Entry) -> Key:
    """The method, path and body of a request entry, the body as canonical JSON."""
    return request["method"], request["path"], _canonical(request)


def _canonical(request: Entry) -> str:
    if "body" in request:
        return json.dumps(request["body"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return str(request.get("text", request.get("base64", "")))


def nearest(request: Entry, recorded: Iterable[Entry]) -> tuple[Entry | None, list[str]]:
    """The recorded request closest to ``request`` (same method and path first), and how they differ."""
    best: tuple[int, Entry | None, list[str]] = (1 << 30, None, [])
    for candidate in recorded:
        found = differences(candidate, request)
        score = (request["method"] != candidate["method"]) * 100 + (request["path"] != candidate["path"]) * 10
        score += len(found)
        if score < best[0]:
            best = (score, candidate, found)
    return best[1], best[2]


def differences(recorded: Entry, live: Entry) -> list[str]:
    """What differs between two request entries, as ``field: recorded != live`` lines (the first few)."""
    found: list[str] = []
    for name in ("method", "path"):
        if recorded[name] != live[name]:
            found.append(f"{name}: {_short(recorded[name])} != {_short(live[name])}")
    if "body" in recorded and "body" in live:
        found.extend(_walk("body", recorded["body"], live["body"]))
    elif _canonical(recorded) != _canonical(live):
        found.append(f"body: {_short(_canonical(recorded))} != {_short(_canonical(live))}")
    return found[:_MAX_DIFFERENCES]


def _walk(where: str, recorded: Any, live: Any) -> Iterator[str]:
    if isinstance(recorded, dict) and isinstance(live, dict):
        for name in sorted(set(recorded) | set(live)):
            if name not in live:
                yield f"{where}.{name}: recorded {_short(recorded[name])}, absent now"
            elif name not in recorded:
                yield f"{where}.{name}: absent from the recording, now {_short(live[name])}"
            else:
                yield from _walk(f"{where}.{name}", recorded[name], live[name])
    elif isinstance(recorded, list) and isinstance(live, list) and len(recorded) == len(live):
        for index, (old, new) in enumerate(zip(recorded, live, strict=True)):
            yield from _walk(f"{where}[{index}]", old, new)
    elif recorded != live:
        yield f"{where}: {_short(recorded)} != {_short(live)}"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= _SHOWN else f"{text[: _SHOWN - 3]}..."
