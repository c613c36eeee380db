"""A cassette: the exchanges of one file, recorded from the network or replayed to the code under test.

Modes: ``once`` records when the file is missing and replays when it exists (then a request with
no recording is an error, as in ``replay``); ``replay`` never sends anything; ``record`` sends
everything and writes the file anew. While recording, the code under test is answered from what
was just written down, scrubbed: it sees then exactly what it will see in replay.

A cassette is shared by every thread of the process (``hook.py``); its state is under a lock, and
the network is never waited on while holding it.
"""

from __future__ import annotations

import json
import os
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

import httpx2

from .exchange import Entry, error_entry, raise_error, read_request, read_response, replay_response
from .hook import CassetteMissError, Send, remembered
from .matching import Key, differences, key_of, nearest
from .scrub import Scrubber

__all__ = ["FORMAT", "MODES", "REPLAYED_TOKEN", "Cassette", "Mode"]

Mode = Literal["once", "replay", "record"]
MODES: tuple[Mode, ...] = ("once", "replay", "record")
#: The version of the file's layout, written in it.
FORMAT = 1
#: The bearer token a replayed request carries: no identity platform is asked in replay.
REPLAYED_TOKEN = "llmport-replayed-token"  # noqa: S105  # a stand-in, never a credential


class Cassette:
    """The exchanges of ``path``, recorded or replayed as ``mode`` says; see the module docstring.

    Args:
        path: the JSON file.
        mode: ``once``, ``replay`` or ``record``.
        secrets: values never to be written (besides the keys and tokens requests carry).

    Raises:
        ValueError: an unknown mode, or a file that is not a cassette.
        FileNotFoundError: ``replay`` and no file at ``path``.
    """

    def __init__(
        self, path: str | os.PathLike[str], mode: Mode = "once", secrets: Iterable[str] = ()
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"a cassette's mode is once, replay or record, got {mode!r}")
        self.path = Path(path)
        self.mode: Mode = mode
        self.scrubber = Scrubber([*secrets, *remembered()])
        self._lock = threading.Lock()
        self.recording = mode == "record" or (mode == "once" and not self.path.exists())
        self.recorded: list[Entry] = []
        self.recording_kept = True
        self._unplayed: dict[Key, deque[Entry]] = defaultdict(deque)
        self._all: list[Entry] = []
        self.played = 0
        if not self.recording:
            self._load()

    def _load(self) -> None:
        if not self.path.exists():
            raise FileNotFoundError(
                f"no cassette at {self.path}: record it first (mode 'once' or 'record', "
                "LLMPORT_RECORD_MODE=once), in a run that may reach the servers"
            )
        data = json.loads(self.path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("llmport_cassette") != FORMAT:
            raise ValueError(f"{self.path} is not an llmport cassette (format {FORMAT})")
        for exchange in data["exchanges"]:
            self._unplayed[key_of(exchange["request"])].append(exchange)
            self._all.append(exchange["request"])

    def handle(self, request: httpx2.Request, send: Send) -> httpx2.Response:
        """Answer ``request`` from the recording, or send it and record the answer."""
        live = read_request(request, self.scrubber)
        if not self.recording:
            return self._replay(live, request)
        try:
            answer = read_response(send(request), self.scrubber)
        except httpx2.TransportError as error:
            failure = error_entry(error, self.scrubber)
            if failure is not None:
                self._append({"request": live, "error": failure})
            raise
        self._append({"request": live, "response": answer})
        return replay_response(answer, request)

    def _append(self, exchange: Entry) -> None:
        with self._lock:
            self.recorded.append(exchange)

    def _replay(self, live: Entry, request: httpx2.Request) -> httpx2.Response:
        with self._lock:
            queue = self._unplayed.get(key_of(live))
            exchange = queue.popleft() if queue else None
            if exchange is not None:
                self.played += 1
        if exchange is None:
            raise CassetteMissError(self._miss(live))
        if "error" in exchange:
            raise_error(exchange["error"], request)
        return replay_response(exchange["response"], request)

    def _miss(self, live: Entry) -> str:
        what = f"{live['method']} {live['path']}"
        head = f"the cassette {self.path} has no recording for {what}"
        closest, found = nearest(live, self._all)
        if closest is None:
            hint = "it holds no exchange"
        elif not differences(closest, live):
            hint = "its recordings of this request were all played already (one per identical request)"
        else:
            hint = f"nearest: {closest['method']} {closest['path']}, which differs in\n  " + "\n  ".join(
                found
            )
        return (
            f"{head}; {hint}. Nothing was sent (mode {self.mode}). To record it, run with "
            "LLMPORT_RECORD_MODE=record (or --llmport-record-mode=record), or delete the file and "
            "run in mode once, where the servers can be reached."
        )

    def token(self, fetch: Callable[[], str]) -> str:
        """A stand-in token in replay; while recording, ``fetch()``'s token, which is never written."""
        if not self.recording:
            return REPLAYED_TOKEN
        value = fetch()
        self.scrubber.learn(value)
        return value

    def discard(self) -> None:
        """Write nothing at the end: what was recorded is dropped (the test failed half-way)."""
        self.recording_kept = False

    def save(self) -> None:
        """Write what was recorded (nothing in replay, or once discarded): sorted keys, stable, through
        a temporary file."""
        if not (self.recording and self.recording_kept):
            return
        for secret in remembered():
            self.scrubber.learn(secret)
        with self._lock:
            # Once more with every secret learned: a later request may have taught one an earlier echoed.
            exchanges = self.scrubber.value(list(self.recorded))
        text = json.dumps(
            {"llmport_cassette": FORMAT, "exchanges": exchanges}, indent=2, sort_keys=True, ensure_ascii=False
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        temporary.write_text(text + "\n", encoding="utf-8")
        temporary.replace(self.path)

    def __repr__(self) -> str:
        return f"Cassette({str(self.path)!r}, mode={self.mode!r}, recording={self.recording})"
