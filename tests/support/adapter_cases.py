"""The adapter cases every contract test runs against: an adapter class, an auth method, a URL shape.

A module of its own, not conftest.py: test modules import these names, and another test folder's
conftest.py would shadow a `from conftest import ...` when both folders are collected together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loopback import LoopbackServer

MODEL = "gpt-4o-mini"  # the model, or the deployment name on Azure


@dataclass(frozen=True)
class AdapterCase:
    """One way of reaching the loopback: an adapter class, an auth method, a URL shape."""

    id: str
    provider: str  # the adapter's provider attribute, put on every error
    shape: str  # the URL shape the loopback sees: openai, azure, azure_v1
    auth: str  # key or token

    def build(self, server: LoopbackServer, **options: Any) -> Any:
        """Build the adapter against ``server``; ``options`` override key/token/timeout/api."""
        from llmport.adapters.llm.azure import AzureClassicAdapter, AzureV1Adapter
        from llmport.adapters.llm.openai import OpenAIAdapter

        key = options.pop("api_key", server.api_key)
        token = options.pop("token_provider", lambda: server.token)
        credential: dict[str, Any] = {"api_key": key} if self.auth == "key" else {"token_provider": token}
        if self.shape == "openai":
            return OpenAIAdapter(api_key=key, base_url=f"{server.url}/v1", **options)
        if self.shape == "azure":
            return AzureClassicAdapter(
                endpoint=server.url,
                api_version=options.pop("api_version", "2024-10-21"),
                **credential,
                **options,
            )
        return AzureV1Adapter(endpoint=server.url, **credential, **options)

    def expected_auth(self, server: LoopbackServer) -> tuple[str, str]:
        """The header (name, value) this case must send."""
        if self.shape == "azure" and self.auth == "key":
            return "api-key", server.api_key
        return "authorization", f"Bearer {server.api_key if self.auth == 'key' else server.token}"


CASES = [
    AdapterCase("openai", "openai", "openai", "key"),
    AdapterCase("azure-key", "azure", "azure", "key"),
    AdapterCase("azure-token", "azure", "azure", "token"),
    AdapterCase("azure_v1-key", "azure_v1", "azure_v1", "key"),
    AdapterCase("azure_v1-token", "azure_v1", "azure_v1", "token"),
]
TOKEN_CASES = [case for case in CASES if case.auth == "token"]
