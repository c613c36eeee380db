"""Checks of single setting values: secrets a header can carry, URLs with a host, names without blanks."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

from ..domain.errors import ConfigurationError, ValidationError
from ..domain.usage import FrozenMap, ModelPrice
from .sources import BOOLS, SECRETS, origin

if TYPE_CHECKING:
    from .model import Auth, Settings

__all__ = [
    "check_choice",
    "check_endpoint",
    "check_kinds",
    "check_name",
    "check_numbers",
    "check_prices",
    "check_range",
    "check_request_path",
    "check_secret",
    "check_url",
    "check_values",
    "check_whole",
    "is_loopback",
    "resolve_auth",
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


def check_endpoint(settings: Settings, where: str) -> None:
    """The Azure rules: an endpoint, https unless loopback or allowed, an api-version only for classic."""
    if not settings.endpoint:
        raise ConfigurationError(
            f"endpoint: provider {settings.provider} needs the resource endpoint, "
            f"https://RESOURCE.openai.azure.com (environment: AZURE_OPENAI_ENDPOINT)"
        )
    parts = urlsplit(settings.endpoint)
    if parts.scheme == "http" and not settings.allow_insecure_http and not is_loopback(parts.hostname or ""):
        raise ConfigurationError(
            f"endpoint: {settings.endpoint!r} is http://, so the key or token would travel unencrypted; "
            f"use https://, or set allow_insecure_http=true (LLMPORT_ALLOW_INSECURE_HTTP) for a trusted "
            f"network or proxy{where}"
        )
    if settings.provider == "azure" and not settings.api_version:
        raise ConfigurationError(
            "api_version: Azure OpenAI (classic) needs an api-version such as 2024-10-21; set "
            "OPENAI_API_VERSION, or use provider azure_v1 (endpoint .../openai/v1) which takes none"
        )
    if settings.provider == "azure_v1" and settings.api_version:
        raise ConfigurationError("api_version: the Azure OpenAI v1 API takes no api-version; remove it")


def resolve_auth(settings: Settings, key_var: str) -> Auth:
    """The auth kind: the one set, else detected from a key or token; refuse what contradicts it.

    Args:
        settings: the settings so far.
        key_var: the environment variable of the provider's API key, for the messages.
    """
    auth = settings.auth
    # Your own token provider or TokenCredential object (an OwnCredential), not a kind's name.
    own = not isinstance(settings.credential, str)
    if own and (settings.api_key or settings.token or auth in ("api_key", "token")):
        raise ConfigurationError(
            "credential: a token provider or credential object is set, and so is an API key, a token or "
            "auth api_key/token; remove one (your own credential means auth=entra)"
        )
    if auth is None:
        if settings.api_key and settings.token:
            raise ConfigurationError(
                "auth: both an API key and a token are set; remove one, or set auth to api_key or token"
            )
        auth = "api_key" if settings.api_key else "token" if settings.token else "entra"
        if auth == "entra" and settings.provider == "openai" and not own:
            raise ConfigurationError("api_key: OpenAI needs an API key; set OPENAI_API_KEY")
    if auth == "api_key" and not settings.api_key:
        raise ConfigurationError(f"api_key: auth is api_key but no key is set; set {key_var}")
    if auth == "token" and not settings.token:
        raise ConfigurationError("token: auth is token but no token is set; set AZURE_OPENAI_AD_TOKEN")
    if auth == "entra" and settings.api_key:
        raise ConfigurationError(
            "auth: both an API key and Entra ID are configured; remove the key, or set auth=api_key"
        )
    if (
        auth == "entra"
        and settings.credential == "client_secret"
        and not (settings.client_id and settings.tenant_id and settings.client_secret)
    ):
        raise ConfigurationError(
            "credential: client_secret needs client_id, tenant_id and client_secret; set "
            "AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET"
        )
    return auth


def check_kinds(settings: Settings) -> None:
    """The flags and URLs, before provider detection reads the URLs."""
    for key in BOOLS:
        if not isinstance(getattr(settings, key), bool):
            raise ConfigurationError(
                f"{key}: {getattr(settings, key)!r} is not true or false{origin(settings, key)}"
            )
    for key in ("base_url", "endpoint"):
        if getattr(settings, key) not in (None, ""):
            parts = check_url(key, getattr(settings, key), origin(settings, key))
            check_request_path(key, parts, origin(settings, key))


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


# The settings that count something: a fraction would be used as it is (3 requests of 2.5 inputs).
_WHOLE = frozenset(
    {
        "max_retries",
        "embedding_batch_size",
        "embedding_token_budget",
        "embedding_max_workers",
        "max_response_bytes",
    }
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


def check_numbers(settings: Settings) -> None:
    """Each number within the range that makes sense for it; counts are whole numbers."""
    rules = (
        ("max_retries", settings.max_retries, 0, 20),
        ("timeout", settings.timeout, 1e-9, 3600),
        ("deadline", settings.deadline, 1e-9, 86400),
        ("embedding_batch_size", settings.embedding_batch_size, 1, 2048),
        ("embedding_token_budget", settings.embedding_token_budget, 1, 10_000_000),
        ("embedding_max_workers", settings.embedding_max_workers, 1, 64),
        ("token_refresh_margin", settings.token_refresh_margin, 0, 86400),
        ("max_response_bytes", settings.max_response_bytes, 1024, 2**40),
    )
    for name, value, low, high in rules:
        if value is None and name == "deadline":
            continue
        if name in _WHOLE:
            check_whole(name, value, int(low), high, origin(settings, name))
        check_range(name, value, low, high, origin(settings, name))


def check_values(settings: Settings) -> None:
    """Secrets that fit a header, names without blanks or padding (URLs are checked earlier)."""
    for key in SECRETS:
        secret = getattr(settings, key)
        if secret is not None:
            value = secret.reveal()
            if not isinstance(value, str):
                raise ConfigurationError(f"{key}: must be a string, got {type(value).__name__}")
            check_secret(key, value, origin(settings, key))
    check_name("scope", "" if settings.scope is None else settings.scope, origin(settings, "scope"))
    for key in ("api_version", "client_id", "tenant_id"):
        check_name(key, getattr(settings, key), origin(settings, key))
    for key in ("chat_model", "embedding_model"):
        # Some OpenAI-compatible servers name models with spaces; none starts or ends with one.
        check_name(key, getattr(settings, key), origin(settings, key), spaces=True)


_PRICE_KEYS = ("input", "cached_input", "output")


def check_prices(settings: Settings) -> None:
    """The price table and the deployment-to-model map, made read-only; prices as ModelPrice."""
    where = origin(settings, "prices")
    prices = settings.prices
    if not isinstance(prices, Mapping):
        raise ConfigurationError(
            f'prices: must map model names to prices, like {{"gpt-4o": {{"input": 2.5, "output": 10}}}}, '
            f"got {type(prices).__name__}{where}"
        )
    table = {_key("prices", name, where): _model_price(name, price, where) for name, price in prices.items()}
    where = origin(settings, "deployment_models")
    given = settings.deployment_models
    if not isinstance(given, Mapping):
        raise ConfigurationError(
            f'deployment_models: must map deployment names to model names, like {{"prod-chat": "gpt-4o"}}, '
            f"got {type(given).__name__}{where}"
        )
    deployments = {_key("deployment_models", name, where): model for name, model in given.items()}
    for deployment, model in deployments.items():
        check_name(f"deployment_models.{deployment}", model, where, spaces=True)
        if table and model not in table:
            raise ConfigurationError(
                f"deployment_models.{deployment}: {model!r} has no price; add it to prices "
                f"(the models priced are: {', '.join(sorted(table))}){where}"
            )
    object.__setattr__(settings, "prices", FrozenMap(table))
    object.__setattr__(settings, "deployment_models", FrozenMap(deployments))


def _key(setting: str, name: object, where: str) -> str:
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise ConfigurationError(f"{setting}: {name!r} is not a model or deployment name{where}")
    return name


def _model_price(model: str, price: object, where: str) -> ModelPrice:
    if isinstance(price, ModelPrice):
        return price
    if not isinstance(price, Mapping):
        raise ConfigurationError(
            f"prices.{model}: must be a table of prices per 1M tokens, like "
            f'{{"input": 2.5, "cached_input": 1.25, "output": 10}}, got {type(price).__name__}{where}'
        )
    unknown = sorted(str(key) for key in price if key not in _PRICE_KEYS)
    if unknown:
        raise ConfigurationError(
            f"prices.{model}: unknown key(s) {', '.join(unknown)}; the keys are input, cached_input "
            f"and output (per 1M tokens){where}"
        )
    if "input" not in price:
        raise ConfigurationError(f"prices.{model}: input (the price per 1M prompt tokens) is missing{where}")
    try:
        return ModelPrice(**{str(key): value for key, value in price.items()})
    except ValidationError as exc:
        raise ConfigurationError(f"prices.{model}.{exc}{where}") from None
