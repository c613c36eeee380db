"""Azure OpenAI adapters: the classic deployments API (api-version) and the v1 API."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import httpx2
import openai

from ...domain.defaults import DEFAULT_TIMEOUT
from ...domain.errors import ConfigurationError
from .wire.adapter import DEFAULT_MAX_RESPONSE_BYTES, HttpClientSource, WireAdapter
from .wire.errors import Redactor
from .wire.sdk_setup import (
    Api,
    MakeClient,
    MaxTokensField,
    checked_api_key,
    checked_headers,
    checked_max_tokens_field,
    checked_token_provider,
    openai_client,
)

__all__ = ["AzureClassicAdapter", "AzureV1Adapter"]


def _one_credential(
    provider: str, api_key: str | None, token_provider: Callable[[], str] | None, redactor: Redactor
) -> str | Callable[[], str]:
    if (api_key is None) == (token_provider is None):
        raise ConfigurationError(
            "Azure needs exactly one of api_key (AZURE_OPENAI_API_KEY) or a token provider "
            "(auth = entra or token)"
        )
    if token_provider is not None:
        return checked_token_provider(provider, token_provider, redactor)
    if not api_key:
        raise ConfigurationError("api_key is empty: set AZURE_OPENAI_API_KEY or use Entra ID")
    redactor.add(checked_api_key(api_key, "AZURE_OPENAI_API_KEY"))
    return api_key


def _endpoint(endpoint: str) -> str:
    if not endpoint or not endpoint.startswith(("https://", "http://")):
        raise ConfigurationError(
            f"endpoint {endpoint!r:.80} must be a URL like https://RESOURCE.openai.azure.com"
        )
    return endpoint.rstrip("/")


#: Builds an Azure adapter's SDK client from its checked endpoint (no trailing ``/``), its one
#: credential (a key, or a token provider) and its checked default headers.
_Credential = str | Callable[[], str]
_ClientFor = Callable[[str, _Credential, dict[str, str] | None], MakeClient]


class _AzureAdapter(WireAdapter):
    """What both Azure APIs check and build alike: one credential, the endpoint, the headers, the wire."""

    def __init__(
        self,
        client_for: _ClientFor,
        *,
        provider: str,
        endpoint: str,
        api_key: str | None,
        token_provider: Callable[[], str] | None,
        timeout: float,
        api: Api,
        max_response_bytes: int,
        max_tokens_field: MaxTokensField,
        default_headers: Mapping[str, str] | None,
        http_client: HttpClientSource | None,
    ) -> None:
        redactor = Redactor()
        credential = _one_credential(provider, api_key, token_provider, redactor)
        root = _endpoint(endpoint)
        headers = checked_headers(default_headers, redactor)
        super().__init__(
            client_for(root, credential, headers),
            provider=provider,
            api=api,
            timeout=timeout,
            redactor=redactor,
            max_tokens_field=checked_max_tokens_field(max_tokens_field),
            max_response_bytes=max_response_bytes,
            http_client=http_client,
        )


class AzureClassicAdapter(_AzureAdapter):
    """Azure OpenAI's deployments API (``/openai/deployments/{name}/...?api-version=``).

    The request's model is the deployment name. A key goes in the ``api-key`` header, a token
    from ``token_provider`` (called before each request) as ``Authorization: Bearer``.

    Args:
        endpoint: ``https://RESOURCE.openai.azure.com``.
        api_version: e.g. ``2024-10-21``.
        api_key: the resource key; exactly one of api_key and token_provider.
        token_provider: returns a current Entra ID token.
        timeout: seconds for each HTTP request.
        api: ``chat`` or ``responses``.
        max_response_bytes: the most bytes one reply (or error body, or stream) may take.
        max_tokens_field: ``auto`` (``max_tokens`` as the SDK sends it, ``max_completion_tokens``
            once the deployment refused it), ``max_tokens`` or ``max_completion_tokens``.
        default_headers: sent with every request (e.g. ``Ocp-Apim-Subscription-Key`` for API
            Management); credential headers' values are redacted from errors.
        http_client: your ``httpx2.Client`` (proxy, custom CA, mTLS), or a callable that makes one.

    Raises:
        ConfigurationError: missing or contradictory settings.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        api_version: str,
        api_key: str | None = None,
        token_provider: Callable[[], str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        api: Api = "chat",
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_tokens_field: MaxTokensField = "auto",
        default_headers: Mapping[str, str] | None = None,
        http_client: HttpClientSource | None = None,
    ) -> None:
        if not api_version:
            raise ConfigurationError("api_version is required for Azure classic: set OPENAI_API_VERSION")

        def classic_client(root: str, credential: _Credential, headers: dict[str, str] | None) -> MakeClient:
            def make_client(http_client: httpx2.Client) -> openai.OpenAI:
                return openai.AzureOpenAI(
                    azure_endpoint=root,
                    api_version=api_version,
                    api_key=credential if isinstance(credential, str) else None,
                    azure_ad_token_provider=None if isinstance(credential, str) else credential,
                    timeout=timeout,
                    max_retries=0,
                    http_client=http_client,
                    default_headers=headers,
                )

            return make_client

        super().__init__(
            classic_client,
            provider="azure",
            endpoint=endpoint,
            api_key=api_key,
            token_provider=token_provider,
            timeout=timeout,
            api=api,
            max_response_bytes=max_response_bytes,
            max_tokens_field=max_tokens_field,
            default_headers=default_headers,
            http_client=http_client,
        )


class AzureV1Adapter(_AzureAdapter):
    """Azure OpenAI's v1 API (``/openai/v1/...``, no api-version), through ``openai.OpenAI``.

    The request's model is the deployment name. Key and token both travel as
    ``Authorization: Bearer``, as Azure documents for the OpenAI client on v1; a token provider
    is called before each request.

    Args:
        endpoint: ``https://RESOURCE.openai.azure.com`` (a trailing ``/openai/v1`` is accepted).
        api_key: the resource key; exactly one of api_key and token_provider.
        token_provider: returns a current Entra ID token.
        timeout: seconds for each HTTP request.
        api: ``chat`` or ``responses``.
        max_response_bytes: the most bytes one reply (or error body, or stream) may take.
        max_tokens_field: ``auto`` (``max_tokens`` as the SDK sends it, ``max_completion_tokens``
            once the deployment refused it), ``max_tokens`` or ``max_completion_tokens``.
        default_headers: sent with every request (e.g. ``Ocp-Apim-Subscription-Key`` for API
            Management); credential headers' values are redacted from errors.
        http_client: your ``httpx2.Client`` (proxy, custom CA, mTLS), or a callable that makes one.

    Raises:
        ConfigurationError: missing or contradictory settings.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        api_key: str | None = None,
        token_provider: Callable[[], str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        api: Api = "chat",
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_tokens_field: MaxTokensField = "auto",
        default_headers: Mapping[str, str] | None = None,
        http_client: HttpClientSource | None = None,
    ) -> None:
        def v1_client(root: str, credential: _Credential, headers: dict[str, str] | None) -> MakeClient:
            return openai_client(
                f"{root.removesuffix('/openai/v1')}/openai/v1/", credential, timeout, headers
            )

        super().__init__(
            v1_client,
            provider="azure_v1",
            endpoint=endpoint,
            api_key=api_key,
            token_provider=token_provider,
            timeout=timeout,
            api=api,
            max_response_bytes=max_response_bytes,
            max_tokens_field=max_tokens_field,
            default_headers=default_headers,
            http_client=http_client,
        )


if TYPE_CHECKING:
    from ...domain.ports import ChatPort, Closeable, EmbeddingPort

    # mypy proves the adapters fit the ports without inheriting from them.
    _chat: tuple[type[ChatPort], ...] = (AzureClassicAdapter, AzureV1Adapter)
    _embed: tuple[type[EmbeddingPort], ...] = (AzureClassicAdapter, AzureV1Adapter)
    _close: tuple[type[Closeable], ...] = (AzureClassicAdapter, AzureV1Adapter)
