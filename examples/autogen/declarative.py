"""autogen's declarative configuration (``ChatCompletionClient.load_component``), with llmport.

autogen::

    client = ChatCompletionClient.load_component(config)

``llmport.from_dict`` reads the same dict: the endpoint, deployment, api-version, and the
``AzureTokenProvider`` component's ``provider_kind`` as the credential (``DefaultAzureCredential`` ->
``default``, ``ManagedIdentityCredential`` -> ``managed_identity``...) with its scope.
"""

from __future__ import annotations

import os
from typing import Any

import llmport


def component() -> dict[str, Any]:
    """The dict autogen's ``dump_component()`` writes for an Azure client with Entra ID."""
    return {
        "provider": "autogen_ext.models.openai.AzureOpenAIChatCompletionClient",
        "component_type": "model",
        "version": 1,
        "component_version": 1,
        "config": {
            "model": "gpt-4o",
            "azure_endpoint": os.environ["AZURE_OPENAI_ENDPOINT"],
            "azure_deployment": os.environ.get("LLMPORT_CHAT_MODEL", "gpt-4o"),
            "api_version": os.environ.get("OPENAI_API_VERSION", "2024-06-01"),
            "azure_ad_token_provider": {
                "provider": "autogen_ext.auth.azure.AzureTokenProvider",
                "component_type": "token_provider",
                "version": 1,
                "component_version": 1,
                "config": {
                    "provider_kind": os.environ.get("AUTOGEN_PROVIDER_KIND", "DefaultAzureCredential"),
                    "scopes": ["https://cognitiveservices.azure.com/.default"],
                },
            },
        },
    }


def main() -> None:
    with llmport.from_dict(component()) as client:
        print(client.chat("What is the capital of France?").text)


if __name__ == "__main__":
    main()
