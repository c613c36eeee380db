"""autogen's Entra ID configuration with a token provider, with llmport.

autogen::

    token_provider = AzureTokenProvider(DefaultAzureCredential(), "https://cognitiveservices.azure.com/.default")
    client = AzureOpenAIChatCompletionClient(
        azure_deployment="{your-azure-deployment}", model="gpt-4o", api_version="2024-06-01",
        azure_endpoint="https://{your-custom-endpoint}.openai.azure.com/",
        azure_ad_token_provider=token_provider,
    )

The token provider (or the credential object itself) goes in ``credential``; llmport's token cache,
refresh margin and 401 rule apply to it. ``credential="default"`` builds the same credential for you.
"""

from __future__ import annotations

import os

from azure.identity import DefaultAzureCredential, get_bearer_token_provider

import llmport


def main() -> None:
    token_provider = get_bearer_token_provider(
        DefaultAzureCredential(), "https://cognitiveservices.azure.com/.default"
    )
    settings = llmport.Settings(
        endpoint=os.environ["AZURE_OPENAI_ENDPOINT"],
        api_version=os.environ.get("OPENAI_API_VERSION"),
        chat_model=os.environ.get("LLMPORT_CHAT_MODEL", "gpt-4o"),
        credential=token_provider,
    )
    with llmport.build_client(settings) as client:
        print(client.chat("What is the capital of France?").text)


if __name__ == "__main__":
    main()
