"""What never reaches a cassette file: credential headers, query secrets, tokens, and every known secret.

Targeted, not the error redactor's guesswork (``domain/redaction.py`` hides any long run of
key-like characters, which would eat a recording's ids and base64 embeddings): a value is
replaced when it stands where a credential goes (a credential header, a secret query parameter, a
JSON field named like a token), when it is shaped like one (a JWT, a ``Bearer`` value), or when it
is a secret this cassette knows: the user's, and every key and token it saw a request carry.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from ...domain.call_options import is_credential_header

__all__ = ["SCRUBBED", "Scrubber", "is_secret_header"]

#: What a secret is replaced with.
SCRUBBED = "<scrubbed>"
# Shorter known secrets are replaced only where they stand whole (a header, a field, a parameter):
# a 3-letter test key replaced inside every word would wreck the recording without hiding anything.
_MIN_INSIDE_TEXT = 6
_JWT = re.compile(r"\beyJ[\w\-]+\.[\w\-]+\.[\w\-]*")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[\w\-.~+/=]+")
# JSON fields that hold a credential (never ``code`` or ``token``: error codes, token counts).
_SECRET_FIELDS = frozenset(
    {"access_token", "refresh_token", "id_token", "client_secret", "client_assertion", "api-key",
     "api_key", "apikey", "password", "secret", "subscription-key", "ocp-apim-subscription-key"}
)  # fmt: skip
# Query parameters that hold one: those, SAS signatures, Functions' code, keys and tokens.
_SECRET_PARAMS = _SECRET_FIELDS | {"sig", "signature", "key", "code", "token"}
_NAMED_VALUE = re.compile(
    r"(?i)(?P<name>[?&;\s\"'(]|^)(?P<field>sig|signature|api[-_]?key|access_token|refresh_token|"
    r"id_token|client_secret|client_assertion|subscription-key)=(?P<value>[^&\s\"'<>;)]+)"
)
_QUOTED_FIELD = re.compile(
    r"(?i)(?P<head>[\"'](?:access_token|refresh_token|id_token|client_secret|api[-_]?key)[\"']\s*:\s*[\"'])"
    r"(?P<value>[^\"']+)"
)


def is_secret_header(name: str) -> bool:
    """True for a header whose value is never written (rate-limit headers count tokens: they stay)."""
    lowered = name.lower()
    return is_credential_header(lowered) and not lowered.startswith("x-ratelimit-")


class Scrubber:
    """Replaces every secret it knows or recognises, in headers, query strings and bodies; thread-safe.

    Args:
        secrets: values to replace wherever they appear (surrounding whitespace, such as a secret
            file's trailing newline, is stripped; both forms are replaced).
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._known: tuple[str, ...] = ()
        for secret in secrets:
            self.learn(secret)

    def __repr__(self) -> str:
        return f"Scrubber({len(self._known)} secrets)"

    def learn(self, secret: str) -> None:
        """Replace ``secret`` (and its stripped form) from now on."""
        forms = {secret, secret.strip()} - {""}
        with self._lock:
            known = set(self._known) | forms
            # Longest first, so that a secret holding another one is replaced whole.
            self._known = tuple(sorted(known, key=lambda value: (-len(value), value)))

    def learn_header(self, name: str, value: str) -> None:
        """Learn a request's credential header value (a ``Bearer`` token's token too)."""
        if is_secret_header(name):
            self.learn(value)
            scheme, _, credential = value.partition(" ")
            if credential and scheme.lower() in ("bearer", "basic"):
                self.learn(credential)

    def text(self, text: str) -> str:
        """``text`` with every known secret and every credential-shaped value replaced."""
        for secret in self._known:
            if len(secret) >= _MIN_INSIDE_TEXT or text == secret:
                text = text.replace(secret, SCRUBBED)
        text = _JWT.sub(SCRUBBED, text)
        text = _BEARER.sub(lambda found: found[1] + SCRUBBED, text)
        text = _NAMED_VALUE.sub(lambda found: f"{found['name']}{found['field']}={SCRUBBED}", text)
        return _QUOTED_FIELD.sub(lambda found: found["head"] + SCRUBBED, text)

    def header(self, name: str, value: str) -> str:
        """A header's value as written: a credential header's is replaced whole."""
        return SCRUBBED if is_secret_header(name) else self.text(value)

    def query(self, query: str) -> str:
        """A query string as written: secret parameters' values replaced (and learned), order kept."""
        if not query:
            return query
        pairs = parse_qsl(query, keep_blank_values=True)
        for name, value in pairs:
            if name.lower() in _SECRET_PARAMS and value:
                # Replaced wherever else it shows, e.g. echoed in a reply, decoded or not.
                self.learn(value)
                self.learn(quote(value, safe=""))
        kept = [
            (name, SCRUBBED if name.lower() in _SECRET_PARAMS else self.text(value)) for name, value in pairs
        ]
        return urlencode(kept, safe="<>/:")

    def value(self, value: Any) -> Any:
        """A JSON value with secret fields (learned) and secrets inside strings replaced, at any depth."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and key.lower() in _SECRET_FIELDS and isinstance(item, str) and item:
                    self.learn(item)
            return {
                key: SCRUBBED
                if isinstance(key, str) and key.lower() in _SECRET_FIELDS and isinstance(item, str)
                else self.value(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.value(item) for item in value]
        return value
