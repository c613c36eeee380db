"""Checks of one setting value: secrets a header can carry, URLs with a host, names without blanks."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

from ..domain.errors import ConfigurationError

__all__ = [
    "check_choice",
    "check_name",
    "check_range",
    "check_request_path",
    "check_secret",
    "check_url",
    "check_whole",
    "is_loopback",
    "shown_url",
]


def check_choice(
    name: str,
    value: object,
    allowed: tuple[str, ...],
    where: str,
    *,
    optional: bool,
    secret_like: bool = False,
) -> None:
    """Refuse a value that is not one of ``allowed`` (None passes when ``optional``).

    Args:
        secret_like: the value may be a secret put in the wrong setting (a key given as the
            credential): it is shown only when it looks like a misspelt choice.
    """
    if (value is None and optional) or value in allowed:
        return
    shown = repr(value)
    if secret_like and not (isinstance(value, str) and _CHOICE_LIKE.fullmatch(value)):
        shown = "the value (not shown: it may be a secret, which goes in api_key, token or client_secret)"
    raise ConfigurationError(f"{name}: {shown} is not one of {', '.join(allowed)}{where}")


# A choice as someone may misspell it: letters, - and _; a key or a secret has digits or symbols.
_CHOICE_LIKE = re.compile(r"[A-Za-z_-]{1,40}")


def check_range(name: str, value: object, low: float, high: float, where: str) -> None:
    """Refuse a value that is not an int or float (a bool is neither) from ``low`` to ``high``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        bound = "greater than 0" if low == 1e-9 else f"from {low}"
        raise ConfigurationError(f"{name}: {value!r} is out of range; it must be {bound} up to {high}{where}")


def check_secret(name: str, value: str, where: str) -> None:
    """Refuse a secret that cannot travel in an HTTP header as it is, without ever showing it.

    Args:
        name: the setting (``api_key``, ``token``, ``client_secret``).
        value: the secret itself; it never appears in the message.
        where: where it came from, appended: `` (from environment AZURE_OPENAI_API_KEY)``.
    """
    if not value.strip():
        problem = "is only whitespace: set the secret itself"
    elif value != value.strip():
        # The usual cause: a secret file mounted by Kubernetes or Docker ends with a newline.
        end = "ends" if value[-1].isspace() else "starts"
        problem = f"{end} with a newline or spaces: strip it"
    elif not value.isascii():
        problem = "holds non-ASCII characters, which an HTTP header cannot carry: copy the secret again"
    elif not value.isprintable():
        problem = "holds a control character (a newline or tab inside it): copy the secret again"
    else:
        return
    raise ConfigurationError(f"{name}: the value {problem}{where}")


def check_name(name: str, value: object, where: str, *, spaces: bool = False) -> None:
    """Refuse a name (model, api-version, scope, client id) that is not a str, is blank or padded.

    Args:
        name: the setting.
        value: its value, or None (not set).
        where: where it came from, appended to the message.
        spaces: whether spaces inside the value are allowed (model names on some servers).
    """
    if value is None:
        return
    if not isinstance(value, str):
        raise ConfigurationError(f"{name}: must be a string, got {type(value).__name__}{where}")
    if not value.strip():
        raise ConfigurationError(f"{name}: {value!r} is empty or blank: set it, or leave it unset{where}")
    if value != value.strip():
        raise ConfigurationError(
            f"{name}: {value!r} starts or ends with spaces or a newline: strip it{where}"
        )
    if not value.isprintable() or (not spaces and any(ch.isspace() for ch in value)):
        raise ConfigurationError(
            f"{name}: {value!r} holds whitespace or a control character: remove it{where}"
        )


def check_url(name: str, value: object, where: str) -> SplitResult:
    """Refuse anything but an http(s) URL with a host, no whitespace, no user or password, no query.

    The messages never show the query or a user and password: a signed URL holds its signature
    there (``?sig=...``), so the URL is shown up to the ``?``.

    Returns:
        The URL split into its parts.
    """
    if not isinstance(value, str):
        raise ConfigurationError(f"{name}: must be a string, got {type(value).__name__}{where}")
    authority = value.partition("://")[2].partition("/")[0].partition("?")[0].partition("#")[0]
    if "@" in authority:
        # Not echoed: what stands before the @ is a user name and perhaps a password.
        raise ConfigurationError(
            f"{name}: the URL holds a user or password before '@'; remove it, set the key as api_key{where}"
        )
    shown = shown_url(value)
    if any(ch.isspace() for ch in value) or not value.isprintable():
        raise ConfigurationError(
            f"{name}: {shown} holds whitespace, a newline or a control character: remove it{where}"
        )
    if not value.isascii():
        raise ConfigurationError(f"{name}: {shown} holds non-ASCII characters; use the ASCII form{where}")
    try:
        parts = urlsplit(value)
        _ = parts.port  # reading the port is what raises ValueError for a bad one
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"{name}: {shown} is not an http(s) URL with a host, like https://RESOURCE.openai.azure.com"
            f"{where}"
        )
    if parts.query or parts.fragment:
        part = "query" if parts.query else "fragment"
        bare = parts._replace(query="", fragment="").geturl()
        raise ConfigurationError(
            f"{name}: the URL must not hold a query or fragment (? or #); remove the {part}: {bare} "
            f"(a key or signature goes in api_key or default_headers){where}"
        )
    return parts


def shown_url(url: str) -> str:
    """``url`` quoted for a message, up to its query or fragment (which may hold a signature)."""
    cut = min((at for at in (url.find("?"), url.find("#")) if at >= 0), default=len(url))
    return repr(url[:cut]) + (" (its query or fragment not shown)" if cut < len(url) else "")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine: localhost, 127.0.0.0/8 or ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# The paths the SDK appends itself: a URL pasted from a request (or the portal's sample) holds one.
_REQUEST_PATH = re.compile(
    r"(?P<root>.*?)(?:/openai(?:/deployments/(?P<deployment>[^/]+))?)?"
    r"(?P<op>/chat/completions|/completions|/embeddings|/responses)?/*$"
)


def check_request_path(name: str, parts: SplitResult, where: str) -> None:
    """Refuse a base URL or endpoint that holds what the client appends to it (a doubled path 404s).

    An Azure endpoint is the resource (``https://RESOURCE.openai.azure.com``, or a gateway's
    prefix); ``/openai/v1`` is allowed (it selects the v1 API). A base URL is the API root
    (``https://HOST/v1``): the SDK adds ``/chat/completions`` and ``/embeddings``.
    """
    path = parts.path.rstrip("/")
    if name == "endpoint" and path.endswith("/openai/v1"):
        return
    match = _REQUEST_PATH.fullmatch(path)
    if match is None:
        return
    extra = path[len(match["root"]) :]
    if not extra or (name == "base_url" and not match["op"]):
        return  # no request path; for base_url, "/openai" may be a server's own prefix
    root = parts._replace(path=match["root"]).geturl()
    fix = f"set {name} to {root!r}"
    if match["deployment"]:
        fix += f" and chat_model (or embedding_model) to the deployment {match['deployment']!r}"
    raise ConfigurationError(
        f"{name}: {parts.geturl()!r} holds the request path {extra!r}, which the client adds itself "
        f"(the request would go to a doubled path and 404); {fix}{where}"
    )


def check_whole(name: str, value: object, low: int, high: float, where: str) -> None:
    """Refuse a count that is not a whole number (an int; a bool is none), naming its range."""
    if isinstance(value, float) and value.is_integer():
        raise ConfigurationError(
            f"{name}: {value!r} is written as a fraction; write the whole number, {int(value)}{where}"
        )
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(
            f"{name}: {value!r} is not a whole number; set a whole number from {low} to {int(high)}{where}"
        )
