"""A local identity platform on 127.0.0.1 for azure-identity's real credential classes.

Two protocols, each as azure-identity and msal speak them (read from their sources:
``msal/managed_identity.py::_obtain_token_on_app_service`` and msal's confidential client):

* **App Service managed identity** (``ManagedIdentityCredential`` when the environment has
  ``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER``): ``GET <endpoint>?api-version=2019-08-01&resource=...``
  with the ``X-IDENTITY-HEADER`` header; the answer is JSON ``{access_token, expires_on, resource,
  token_type}``, ``expires_on`` in seconds since the epoch. The protocol has no ``claims``
  parameter: msal sends none, and a claims challenge only makes it skip its cache.
* **Entra ID client credentials** (``ClientSecretCredential`` with ``authority`` set here):
  ``GET /{tenant}/v2.0/.well-known/openid-configuration`` (msal's tenant discovery), then
  ``POST /{tenant}/oauth2/v2.0/token`` with a form holding ``client_secret``, ``scope`` and,
  for a claims challenge, ``claims``. azure-identity refuses a non-https authority, so this
  side needs ``tls=True``: a self-signed certificate for 127.0.0.1, trusted through
  :attr:`TokenEndpoint.cafile` (e.g. ``connection_verify=endpoint.cafile``).

Every token it issues is numbered (``<prefix>1``, ``<prefix>2``...), unless ``same_token`` is set:
then it always hands out the first one again, like an identity platform still serving a token
the resource has revoked. It counts and records every request. Bound to 127.0.0.1 only.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

__all__ = ["TokenEndpoint", "TokenRequest", "point_managed_identity_at", "refuse_off_machine"]

IDENTITY_HEADER = "local-identity-header-7c1f"


@dataclass(frozen=True)
class TokenRequest:
    """One request the endpoint received; ``form`` is the POST body's fields (Entra side)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    form: dict[str, str]

    @property
    def claims(self) -> str | None:
        """The claims this request asked for, wherever the protocol would carry them."""
        return self.form.get("claims") or self.query.get("claims")

    @property
    def is_token_request(self) -> bool:
        return self.path.endswith(("/msi/token", "/oauth2/v2.0/token"))


class TokenEndpoint:
    """The endpoint; use as ``with TokenEndpoint() as endpoint:`` (it is closed on exit).

    Args:
        same_token: hand out the first token on every request (a revoked token still issued).
        lifetime: seconds each token is valid for.
        prefix: the issued tokens are ``prefix + number``.
        tls: serve https with a self-signed certificate for 127.0.0.1 (needed by ClientSecretCredential).
        client_secret: on the Entra side, the only client secret accepted (None: any).
    """

    def __init__(
        self,
        *,
        same_token: bool = False,
        lifetime: float = 3600.0,
        prefix: str = "token-",
        tls: bool = False,
        client_secret: str | None = None,
    ) -> None:
        self.same_token = same_token
        self.lifetime = lifetime
        self.prefix = prefix
        self.client_secret = client_secret
        self.identity_header = IDENTITY_HEADER
        self.requests: list[TokenRequest] = []
        self.issued: list[str] = []
        self._lock = threading.Lock()
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        if tls:
            self._dir = tempfile.TemporaryDirectory(prefix="token-endpoint-")
            cert, key = _self_signed(Path(self._dir.name))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            # The handshake happens in the handler's thread, on first read, not in the accept loop.
            self._httpd.socket = context.wrap_socket(
                self._httpd.socket, server_side=True, do_handshake_on_connect=False
            )
            self.cafile: str | None = str(cert)
        else:
            self.cafile = None
        self._scheme = "https" if tls else "http"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- addresses ----------------------------------------------------------------------

    @property
    def origin(self) -> str:
        """``http(s)://127.0.0.1:PORT``."""
        return f"{self._scheme}://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def msi_url(self) -> str:
        """The App Service endpoint, for ``IDENTITY_ENDPOINT``."""
        return f"{self.origin}/msi/token"

    @property
    def authority(self) -> str:
        """An authority for ClientSecretCredential (``https://127.0.0.1:PORT``); needs ``tls=True``."""
        return self.origin

    def managed_identity_environ(self) -> dict[str, str]:
        """What App Service puts in the environment of an app with a managed identity."""
        return {"IDENTITY_ENDPOINT": self.msi_url, "IDENTITY_HEADER": self.identity_header}

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> TokenEndpoint:
        self._thread.start()
        return self

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        if self._dir is not None:
            self._dir.cleanup()

    def __enter__(self) -> TokenEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what it saw ----------------------------------------------------------------------

    @property
    def token_requests(self) -> list[TokenRequest]:
        """The requests that asked for a token (not msal's discovery requests)."""
        with self._lock:
            return [request for request in self.requests if request.is_token_request]

    @property
    def count(self) -> int:
        """How many tokens were asked for."""
        return len(self.token_requests)

    # -- serving (server threads) ---------------------------------------------------------

    def _issue(self) -> str:
        with self._lock:
            if self.same_token and self.issued:
                token = self.issued[0]
            else:
                token = f"{self.prefix}{len(self.issued) + 1}"
            self.issued.append(token)
            return token

    def _handle(self, handler: _Handler) -> tuple[int, dict[str, Any]]:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length).decode("utf-8", "replace") if length else ""
        request = TokenRequest(
            method=handler.command,
            path=split.path,
            query={k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()},
            headers={k.lower(): v for k, v in handler.headers.items()},
            form={k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()},
        )
        with self._lock:
            self.requests.append(request)
        if split.path == "/msi/token":
            return self._app_service(request)
        parts = split.path.strip("/").split("/")
        if split.path.endswith("/v2.0/.well-known/openid-configuration"):
            return 200, self._openid_configuration(parts[0])
        if split.path.endswith("/oauth2/v2.0/token") and handler.command == "POST":
            return self._client_credentials(request)
        return 404, {"error": "not_found", "error_description": f"no such path {split.path}"}

    def _app_service(self, request: TokenRequest) -> tuple[int, dict[str, Any]]:
        if request.headers.get("x-identity-header") != self.identity_header:
            return 401, {"statusCode": 401, "message": "the X-IDENTITY-HEADER is missing or wrong"}
        resource = request.query.get("resource")
        if request.query.get("api-version") != "2019-08-01" or not resource:
            return 400, {"statusCode": 400, "message": "api-version 2019-08-01 and resource are required"}
        return 200, {
            "access_token": self._issue(),
            "expires_on": str(int(time.time() + self.lifetime)),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": request.query.get("client_id", "00000000-0000-0000-0000-000000000000"),
        }

    def _openid_configuration(self, tenant: str) -> dict[str, Any]:
        base = f"{self.origin}/{tenant}"
        return {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "issuer": f"{base}/v2.0",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
        }

    def _client_credentials(self, request: TokenRequest) -> tuple[int, dict[str, Any]]:
        form = request.form
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type", "error_description": "client_credentials only"}
        if self.client_secret is not None and form.get("client_secret") != self.client_secret:
            return 401, {
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret",
            }
        return 200, {
            "token_type": "Bearer",
            "expires_in": int(self.lifetime),
            "ext_expires_in": int(self.lifetime),
            "access_token": self._issue(),
        }


def point_managed_identity_at(endpoint: TokenEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make azure-identity's ManagedIdentityCredential use ``endpoint`` as App Service's.

    Set before the credential is built (llmport builds it on the first token asked for).
    """
    for name in (
        "IDENTITY_SERVER_THUMBPRINT",  # would make it Service Fabric
        "IMDS_ENDPOINT",  # Azure Arc
        "MSI_ENDPOINT",  # Azure ML, Cloud Shell
        "MSI_SECRET",
        "AZURE_FEDERATED_TOKEN_FILE",  # workload identity
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in endpoint.managed_identity_environ().items():
        monkeypatch.setenv(name, value)


def refuse_off_machine(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every name lookup but the loopback's fail; return the list of names refused.

    A guard: msal's instance discovery, or a default authority, would otherwise reach Microsoft.
    """
    refused: list[str] = []
    resolve = socket.getaddrinfo

    def loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in ("127.0.0.1", "localhost", "::1"):
            refused.append(name)
            raise OSError(f"test guard: {name} is off this machine")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    return refused


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate and key for 127.0.0.1 (cryptography comes with msal)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: TokenEndpoint

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up (or fails the TLS handshake) is not the test's concern


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _answer(self) -> None:
        status, body = self.server.owner._handle(self)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass
