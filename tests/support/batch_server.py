"""A stateful Files + Batches server on 127.0.0.1, checking each batch as OpenAI and Azure OpenAI do.

It speaks the three URL shapes (OpenAI ``/v1/files``, ``/v1/batches``; Azure classic
``/openai/files``, ``/openai/batches`` with an ``api-version``; Azure v1 ``/openai/v1/...``),
takes multipart uploads with ``purpose=batch``, and validates each batch's file the way the real
APIs do: JSONL, a unique ``custom_id`` per line, ``method`` POST, a ``url`` equal to the batch's
endpoint, a ``model`` in every body and one model per file, at most ``max_requests`` lines and
``max_bytes`` bytes (OpenAI: 50,000 and 200 MB; Azure: 100,000 and 200 MB). A file that breaks a
rule makes the batch ``failed`` with the errors listed, as the real APIs do.

Batches move through ``validating``, ``in_progress``, ``finalizing`` and a terminal status; by
default each retrieve moves a batch one step (``auto=True``). With ``auto=False`` a test sets the
pace: :meth:`BatchServer.step`, :meth:`finish`, :meth:`expire`, :meth:`fail`. The output file lists
results in reverse input order (the real APIs promise no order). Every line of a batch created and
not refused is counted by its ``custom_id`` and body, so :meth:`duplicates` says how many requests
were submitted twice (a provider runs a batch whether or not anyone polls it). :meth:`hang_after`
carries out a request and holds its answer, so that a test can kill the client at that moment.
``enqueued_token_limit`` refuses a batch whose tokens would pass it, with the real
``token_limit_exceeded`` error in the batch's ``errors``.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["AZURE_LIMITS", "OPENAI_LIMITS", "BatchServer", "ItemError"]

MB = 1024 * 1024
OPENAI_LIMITS = (50_000, 200 * MB)
AZURE_LIMITS = (100_000, 200 * MB)
TERMINAL = ("completed", "failed", "expired", "cancelled")
_STEPS = {"validating": "in_progress", "in_progress": "finalizing", "finalizing": "completed"}

#: Decides a line's failure: (HTTP status, error body) for that request, or None for a reply.
ItemError = Callable[[str, Mapping[str, Any]], "tuple[int, dict[str, Any]] | None"]


@dataclass
class _Batch:
    id: str
    endpoint: str
    input_file_id: str
    metadata: dict[str, str]
    created_at: int
    shape: str
    status: str = "validating"
    lines: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    output_file_id: str | None = None
    error_file_id: str | None = None
    done: int = 0  # lines processed (for expire/cancel: the first ``done`` finish)
    failed: int = 0
    tokens: int = 0

    def wire(self) -> dict[str, Any]:
        total = len(self.lines)
        completed = self.done - self.failed if self.status in ("finalizing", *TERMINAL) else 0
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "errors": {"object": "list", "data": self.errors} if self.errors else None,
            "input_file_id": self.input_file_id,
            "completion_window": "24h",
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "metadata": self.metadata or None,
            "request_counts": {"total": total, "completed": completed, "failed": self.failed},
        }


class BatchServer:
    """The Files and Batches APIs of OpenAI and Azure OpenAI, in memory, on a daemon thread.

    Args:
        api_key: the key each request must carry (``Authorization: Bearer`` or ``api-key``).
        auto: each retrieve moves a batch one step; False: only the test's calls move batches.
        limits: (requests, bytes) per file, per shape; default the real ones.
        enqueued_token_limit: the most tokens the batches not yet terminal may hold together.
        item_error: which lines fail, and how.
        reply_text: a chat reply's text for line number N of its batch (default ``echo: <prompt>``).
    """

    def __init__(
        self,
        *,
        api_key: str = "sk-batch-test-key-000000000000000000",
        auto: bool = True,
        limits: Mapping[str, tuple[int, int]] | None = None,
        enqueued_token_limit: int | None = None,
        item_error: ItemError | None = None,
        reply_text: Callable[[int], str] | None = None,
    ) -> None:
        self.api_key = api_key
        self.auto = auto
        self.limits = {"openai": OPENAI_LIMITS, "azure": AZURE_LIMITS, "azure_v1": AZURE_LIMITS}
        self.limits.update(limits or {})
        self.enqueued_token_limit = enqueued_token_limit
        self.item_error = item_error
        self.reply_text = reply_text
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, _Batch] = {}
        self.uploads = 0
        self.creates = 0
        self.deleted: list[str] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.accepted: Counter[str] = Counter()  # custom_id + body of each line put in progress
        self.lock = threading.RLock()
        self._hangs: list[tuple[str, str, threading.Event]] = []
        self._faults: list[tuple[str, str, int]] = []
        self._release = threading.Event()
        self._ids = itertools.count(1)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02})
        self._thread.daemon = True

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> BatchServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> BatchServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # What a test reads.

    def duplicates(self) -> int:
        """How many lines were submitted more than once (same custom_id and body) in batches that
        were not refused: the requests a provider would run, and bill, twice."""
        with self.lock:
            return sum(count - 1 for count in self.accepted.values() if count > 1)

    def live_files(self) -> list[str]:
        with self.lock:
            return sorted(self.files)

    def statuses(self) -> list[str]:
        with self.lock:
            return [b.status for b in self.batches.values()]

    # What a test does to set the pace.

    def hang_after(self, method: str, path_part: str) -> threading.Event:
        """The next ``method`` request whose path contains ``path_part`` is carried out, then its
        answer held until :meth:`release`: a client killed meanwhile never learns what it did.
        Returns the event set when that request has been carried out."""
        reached = threading.Event()
        with self.lock:
            self._hangs.append((method, path_part, reached))
            self._release.clear()  # held answers from before were let go by release()
        return reached

    def fail_next(self, method: str, path_part: str, status: int) -> None:
        """Answer the next ``method`` request whose path contains ``path_part`` with ``status``
        (an error body of the real shape), without carrying it out."""
        with self.lock:
            self._faults.append((method, path_part, status))

    def release(self) -> None:
        """Let every held answer go (to a client that may be gone), and hold no more."""
        self._release.set()

    def hold_if_asked(self, method: str, path: str) -> None:
        with self.lock:
            hang = next((h for h in self._hangs if h[0] == method and h[1] in path), None)
            if hang is None:
                return
            self._hangs.remove(hang)
        hang[2].set()
        self._release.wait(30)

    def step(self, batch_id: str | None = None) -> None:
        """Move one batch (or every batch not yet terminal) one step on."""
        with self.lock:
            for batch in self._chosen(batch_id):
                self._advance(batch)

    def finish(self, batch_id: str | None = None) -> None:
        """Run batches to their end."""
        with self.lock:
            for batch in self._chosen(batch_id):
                while batch.status not in TERMINAL and batch.status != "cancelling":
                    self._advance(batch)
                if batch.status == "cancelling":
                    self._end(batch, "cancelled", len(batch.lines) // 2)

    def expire(self, batch_id: str | None = None, *, done: int = 0) -> None:
        """End batches as ``expired`` once their first ``done`` lines have run."""
        with self.lock:
            for batch in self._chosen(batch_id):
                if batch.status == "validating":
                    self._advance(batch)
                if batch.status not in TERMINAL:
                    self._end(batch, "expired", done)

    def fail(self, batch_id: str | None = None, *, code: str = "server_error", message: str = "boom") -> None:
        with self.lock:
            for batch in self._chosen(batch_id):
                batch.errors.append({"code": code, "message": message, "line": None, "param": None})
                batch.status = "failed"

    def _chosen(self, batch_id: str | None) -> list[_Batch]:
        if batch_id is not None:
            return [self.batches[batch_id]]
        return [b for b in self.batches.values() if b.status not in TERMINAL]

    # The batch's life.

    def _advance(self, batch: _Batch) -> None:
        if batch.status == "validating":
            self._validate(batch)
            return
        if batch.status == "cancelling":
            self._end(batch, "cancelled", len(batch.lines) // 2)
        elif batch.status == "finalizing":
            self._end(batch, "completed", len(batch.lines))
        elif batch.status in _STEPS:
            batch.status = _STEPS[batch.status]

    def _validate(self, batch: _Batch) -> None:
        data = self.files.get(batch.input_file_id)
        problems = _problems(data["bytes"] if data else b"", batch, self.limits[batch.shape])
        if data is None:
            problems = [_error("invalid_file", "the input file does not exist")]
        if not problems and self.enqueued_token_limit is not None:
            enqueued = sum(
                b.tokens
                for b in self.batches.values()
                if b is not batch and b.status in ("in_progress", "finalizing")
            )
            if enqueued + batch.tokens > self.enqueued_token_limit:
                model = batch.lines[0]["body"].get("model") if batch.lines else "?"
                problems = [
                    _error(
                        "token_limit_exceeded",
                        f"Enqueued token limit reached for {model} in organization org-loopback. Limit: "
                        f"{self.enqueued_token_limit:,} enqueued tokens. Please try again once some "
                        "in_progress batches have been completed.",
                    )
                ]
        if problems:
            for line in batch.lines:  # refused: none of its requests will run
                self.accepted[_key(line)] -= 1
            self.accepted += Counter()  # drops the zeros
            batch.errors = problems[:100]
            batch.status = "failed"
            batch.lines = []
            return
        batch.status = "in_progress"

    def _end(self, batch: _Batch, status: str, done: int) -> None:
        out: list[bytes] = []
        bad: list[bytes] = []
        batch.failed = 0
        for number, line in enumerate(batch.lines):
            custom_id = line["custom_id"]
            if number >= done:
                self.accepted[_key(line)] -= 1  # never ran: not billed, may be sent again
                code = "batch_expired" if status == "expired" else "batch_cancelled"
                what = "before the completion window expired" if status == "expired" else "before cancel"
                row = {
                    "custom_id": custom_id,
                    "response": None,
                    "error": {"code": code, "message": f"This request could not be executed {what}."},
                }
                bad.append(_jsonl(row))
                continue
            failure = self.item_error(custom_id, line["body"]) if self.item_error else None
            if failure is None:
                reply = _reply(batch.endpoint, line["body"], number, self.reply_text)
                row = {
                    "id": f"batch_req_{number}",
                    "custom_id": custom_id,
                    "response": {"status_code": 200, "request_id": f"req_{batch.id}_{number}", "body": reply},
                    "error": None,
                }
                out.append(_jsonl(row))
            else:
                batch.failed += 1
                row = {
                    "id": f"batch_req_{number}",
                    "custom_id": custom_id,
                    "response": {
                        "status_code": failure[0],
                        "request_id": f"req_{batch.id}_{number}",
                        "body": failure[1],
                    },
                    "error": None,
                }
                bad.append(_jsonl(row))
        self.accepted += Counter()  # drops the zeros
        batch.done = min(done, len(batch.lines))
        out.reverse()  # the real APIs promise no order
        if out:
            batch.output_file_id = self._store(b"".join(out), "batch_output")
        if bad:
            batch.error_file_id = self._store(b"".join(bad), "batch_output")
        batch.status = status

    def _store(self, data: bytes, purpose: str, filename: str = "output.jsonl") -> str:
        file_id = f"file-{next(self._ids):06d}"
        self.files[file_id] = {
            "bytes": data,
            "purpose": purpose,
            "filename": filename,
            "created_at": int(time.time()),
        }
        return file_id

    # HTTP.

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: Mapping[str, str], raw: bytes
    ) -> tuple[int, Any]:
        shape, rest = _shape(path)
        with self.lock:
            self.requests.append((method, path))
        if shape == "azure" and not query.get("api-version"):
            return 404, {"error": {"code": "404", "message": "Resource not found"}}
        if shape == "azure_v1" and "api-version" in query:
            return 400, {
                "error": {
                    "code": "BadRequest",
                    "message": "api-version query parameter is not allowed when using /v1 path",
                }
            }
        with self.lock:
            fault = next((f for f in self._faults if f[0] == method and f[1] in path), None)
            if fault is not None:
                self._faults.remove(fault)
                code = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(fault[2], "server_error")
                return fault[2], {
                    "error": {"message": f"injected {fault[2]}", "type": "server_error", "code": code}
                }
        if not self._authorised(headers):
            return 401, {
                "error": {
                    "message": "Incorrect API key provided",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                    "param": None,
                }
            }
        with self.lock:
            return self._route(method, rest, shape, (query, headers, raw))

    def _authorised(self, headers: Mapping[str, str]) -> bool:
        bearer = headers.get("authorization", "").removeprefix("Bearer ")
        return self.api_key in (bearer, headers.get("api-key"))

    def _route(  # noqa: PLR0911, PLR0912  # one return per route: the table of the API
        self, method: str, rest: list[str], shape: str, sent: tuple[dict[str, str], Mapping[str, str], bytes]
    ) -> tuple[int, Any]:
        query, headers, raw = sent
        match method, rest:
            case "POST", ["files"]:
                return self._upload(headers, raw, shape)
            case "GET", ["files"]:
                return 200, self._list_files(query)
            case "GET", ["files", file_id, "content"]:
                data = self.files.get(file_id)
                return (200, data["bytes"]) if data else _missing("file", file_id)
            case "DELETE", ["files", file_id]:
                if self.files.pop(file_id, None) is None:
                    return _missing("file", file_id)
                self.deleted.append(file_id)
                return 200, {"id": file_id, "object": "file", "deleted": True}
            case "POST", ["batches"]:
                return self._create(json.loads(raw), shape)
            case "GET", ["batches"]:
                return 200, self._list(query)
            case "GET", ["batches", batch_id]:
                batch = self.batches.get(batch_id)
                if batch is None:
                    return _missing("batch", batch_id)
                if self.auto and batch.status not in TERMINAL:
                    self._advance(batch)
                return 200, batch.wire()
            case "POST", ["batches", batch_id, "cancel"]:
                batch = self.batches.get(batch_id)
                if batch is None:
                    return _missing("batch", batch_id)
                if batch.status not in TERMINAL:
                    batch.status = "cancelling"
                return 200, batch.wire()
        return 404, {"error": {"message": f"no route {method} {'/'.join(rest)}", "code": "not_found"}}

    def _upload(self, headers: Mapping[str, str], raw: bytes, shape: str) -> tuple[int, Any]:
        head = f"Content-Type: {headers.get('content-type', '')}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + raw)
        fields: dict[str, tuple[str | None, bytes]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fields[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
        purpose = fields.get("purpose", (None, b""))[1].decode()
        if purpose != "batch" or "file" not in fields:
            return 400, {
                "error": {
                    "message": "purpose must be batch and a file is required",
                    "code": "invalid_request",
                }
            }
        filename, data = fields["file"]
        if len(data) > self.limits[shape][1]:
            return 400, {
                "error": {
                    "message": f"File is too large: {len(data)} bytes, the limit is {self.limits[shape][1]}",
                    "code": "file_too_large",
                }
            }
        self.uploads += 1
        file_id = self._store(data, "batch", filename or "upload.jsonl")
        return 200, {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": "batch",
            "status": "processed",
        }

    def _list_files(self, query: dict[str, str]) -> dict[str, Any]:
        chosen = [
            {
                "id": file_id,
                "object": "file",
                "bytes": len(f["bytes"]),
                "created_at": f["created_at"],
                "filename": f["filename"],
                "purpose": f["purpose"],
                "status": "processed",
            }
            for file_id, f in self.files.items()
            if query.get("purpose") in (None, f["purpose"])
        ]
        if query.get("order", "desc") == "desc":
            chosen.reverse()
        limit = int(query.get("limit", "10000"))
        return {"object": "list", "data": chosen[:limit], "has_more": len(chosen) > limit}

    def _create(self, body: dict[str, Any], shape: str) -> tuple[int, Any]:
        endpoint = body.get("endpoint")
        allowed = (
            ("/v1/chat/completions", "/v1/embeddings", "/v1/responses")
            if shape == "openai"
            else ("/chat/completions", "/responses", "/v1/chat/completions", "/v1/responses")
        )
        if endpoint not in allowed:
            return 400, {
                "error": {
                    "message": f"Invalid endpoint {endpoint!r}",
                    "code": "invalid_value",
                    "param": "endpoint",
                }
            }
        if body.get("completion_window") != "24h":
            return 400, {"error": {"message": "completion_window must be 24h", "code": "invalid_value"}}
        if body.get("input_file_id") not in self.files:
            return 400, {"error": {"message": "No such File object", "code": "invalid_request"}}
        metadata = body.get("metadata") or {}
        if len(metadata) > 16 or any(len(k) > 64 or len(str(v)) > 512 for k, v in metadata.items()):
            return 400, {
                "error": {
                    "message": "metadata: at most 16 keys of 64 characters, values of 512",
                    "code": "invalid_value",
                }
            }
        self.creates += 1
        batch_id = f"batch_{next(self._ids):06d}"
        batch = _Batch(batch_id, endpoint, body["input_file_id"], dict(metadata), int(time.time()), shape)
        batch.lines = _lines(self.files[batch.input_file_id]["bytes"])
        batch.tokens = sum(_tokens(line) for line in batch.lines)
        for line in batch.lines:  # the provider will run each, whether or not anyone polls
            self.accepted[_key(line)] += 1
        self.batches[batch_id] = batch
        return 200, batch.wire()

    def _list(self, query: dict[str, str]) -> dict[str, Any]:
        newest_first = list(reversed(self.batches.values()))
        after = query.get("after")
        if after is not None:
            ids = [b.id for b in newest_first]
            newest_first = newest_first[ids.index(after) + 1 :] if after in ids else []
        limit = int(query.get("limit", "20"))
        page = newest_first[:limit]
        return {
            "object": "list",
            "data": [b.wire() for b in page],
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
            "has_more": len(newest_first) > limit,
        }


def _shape(path: str) -> tuple[str, list[str]]:
    for prefix, shape in (("/openai/v1/", "azure_v1"), ("/openai/", "azure"), ("/v1/", "openai")):
        if path.startswith(prefix):
            return shape, [part for part in path.removeprefix(prefix).split("/") if part]
    return "unknown", []


def _missing(kind: str, ident: str) -> tuple[int, Any]:
    return 404, {
        "error": {"message": f"No such {kind}: {ident}", "type": "invalid_request_error", "code": None}
    }


def _error(code: str, message: str, line: int | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "line": line, "param": None}


def _lines(data: bytes) -> list[dict[str, Any]]:
    out = []
    for text in data.splitlines():
        if text.strip():
            try:
                out.append(json.loads(text))
            except ValueError:
                out.append({})
    return out


def _problems(data: bytes, batch: _Batch, limits: tuple[int, int]) -> list[dict[str, Any]]:
    """What the real APIs find wrong in a batch's input file, one error per line at fault."""
    max_requests, max_bytes = limits
    if len(data) > max_bytes:
        return [_error("file_too_large", f"The input file is {len(data)} bytes; the limit is {max_bytes}.")]
    if len(batch.lines) > max_requests:
        return [
            _error(
                "too_many_requests",
                f"The input file has {len(batch.lines)} requests; the limit is {max_requests}.",
            )
        ]
    if not batch.lines:
        return [_error("empty_file", "The input file has no requests.")]
    problems: list[dict[str, Any]] = []
    seen: set[str] = set()
    models: set[str] = set()
    for number, line in enumerate(batch.lines, start=1):
        body = line.get("body")
        custom_id = line.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            problems.append(_error("missing_required_parameter", "custom_id is required", number))
        elif custom_id in seen:
            problems.append(
                _error("duplicate_custom_id", f"The custom_id {custom_id!r} is used more than once.", number)
            )
        seen.add(str(custom_id))
        if line.get("method") != "POST":
            problems.append(_error("invalid_value", "method must be POST", number))
        if line.get("url") != batch.endpoint:
            problems.append(
                _error(
                    "mismatched_url",
                    f"The url {line.get('url')!r} differs from the batch's endpoint {batch.endpoint!r}.",
                    number,
                )
            )
        if not isinstance(body, dict) or not body.get("model"):
            problems.append(_error("missing_required_parameter", "body.model is required", number))
        else:
            models.add(body["model"])
    if len(models) > 1:
        problems.append(
            _error("mismatched_model", f"A batch's requests must all use one model; found {sorted(models)}.")
        )
    return problems


def _tokens(line: Mapping[str, Any]) -> int:
    """A rough count of a line's tokens (4 characters each), as the enqueued limit counts them."""
    body = line.get("body") or {}
    return max(1, len(json.dumps(body.get("messages") or body.get("input") or "")) // 4)


def _key(line: Mapping[str, Any]) -> str:
    body = dict(line.get("body") or {})
    return f"{line.get('custom_id')}|{json.dumps(body, sort_keys=True)}"


def _reply(
    endpoint: str, body: Mapping[str, Any], number: int, text: Callable[[int], str] | None
) -> dict[str, Any]:
    if endpoint.endswith("/embeddings"):
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(t)), float(number)]}
            for i, t in enumerate(texts)
        ]
        tokens = sum(max(1, len(t) // 4) for t in texts)
        return {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    if endpoint.endswith("/responses"):
        said = body["input"][-1]["content"] if isinstance(body.get("input"), list) else body.get("input")
        return {
            "id": f"resp_{number}",
            "object": "response",
            "status": "completed",
            "model": "gpt-4o-mini-2024-07-18",
            "output": [
                {
                    "type": "message",
                    "id": f"msg_{number}",
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": f"echo: {said}", "annotations": []}],
                }
            ],
            "usage": {"input_tokens": 5, "output_tokens": 3, "total_tokens": 8},
        }
    last = body["messages"][-1]["content"] if body.get("messages") else ""
    prompt = max(1, len(json.dumps(body.get("messages"))) // 4)
    return {
        "id": f"chatcmpl-{number}",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text(number) if text else f"echo: {last}"},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": prompt, "completion_tokens": 3, "total_tokens": prompt + 3},
    }


def _jsonl(row: Mapping[str, Any]) -> bytes:
    return json.dumps(row).encode() + b"\n"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        owner: BatchServer = self.server.owner  # type: ignore[attr-defined]
        status, body = owner.handle(self.command, split.path, query, headers, raw)
        owner.hold_if_asked(self.command, split.path)
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header(
            "content-type", "application/octet-stream" if isinstance(body, bytes) else "application/json"
        )
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", f"req_{status}_{time.monotonic_ns()}")
        self.end_headers()
        try:
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client is gone (killed while its answer was held)

    do_GET = do_POST = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass
