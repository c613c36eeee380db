"""autogen's key-based configuration, with llmport.

autogen::

    client = AzureOpenAIChatCompletionClient(
        azure_deployment="{your-azure-deployment}", model="gpt-4o", api_version="2024-06-01",
        azure_endpoint="https://{your-custom-endpoint}.openai.azure.com/", api_key="sk-...",
    )
    # or OpenAIChatCompletionClient(model="gpt-4o", api_key="sk-...")
"""

from __future__ import annotations

import os

import llmport


def main() -> None:
    settings = llmport.Settings(
        endpoint=os.environ["AZURE_OPENAI_ENDPOINT"],  # .../openai/v1 means the v1 API: no api_version
        api_version=os.environ.get("OPENAI_API_VERSION"),
        api_key=os.environ["AZURE_OPENAI_API_KEY"],
        chat_model=os.environ.get("LLMPORT_CHAT_MODEL", "gpt-4o"),  # the deployment on Azure
    )
    with llmport.build_client(settings) as client:
        print(client.chat("What is the capital of France?").text)


if __name__ == "__main__":
    main()
