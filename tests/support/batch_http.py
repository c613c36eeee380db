"""The HTTP side of batch_server.py: the Files and Batches routes, in three URL shapes, and the handler."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from batch_samples import TERMINAL, Batch, key, parse_lines, tokens

if TYPE_CHECKING:
    from batch_server import BatchServer

__all__ = ["FilesAndBatchesRoutes", "Handler"]


class FilesAndBatchesRoutes:
    """The routes of BatchServer (a mixin: the state is the server's)."""

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
        batch = Batch(batch_id, endpoint, body["input_file_id"], dict(metadata), int(time.time()), shape)
        batch.lines = parse_lines(self.files[batch.input_file_id]["bytes"])
        batch.tokens = sum(tokens(line) for line in batch.lines)
        for line in batch.lines:  # the provider will run each, whether or not anyone polls
            self.accepted[key(line)] += 1
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


class Handler(BaseHTTPRequestHandler):
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
