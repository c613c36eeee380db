"""Azure's Responses API example with a remote MCP server as a tool, with llmport.

Raw SDK::

    response = client.responses.create(
        model="gpt-4.1",
        tools=[{"type": "mcp", "server_label": "github",
                "server_url": "https://gitmcp.io/Azure/azure-rest-api-specs", "require_approval": "never"}],
        input="What is this repo in 100 words?",
    )
    print(response.output_text)
"""

from __future__ import annotations

import llmport


def main() -> None:
    github = llmport.McpTool(
        "github", "https://gitmcp.io/Azure/azure-rest-api-specs", require_approval="never"
    )
    with llmport.from_env() as client:
        reply = client.chat("What is this repo in 100 words?", api="responses", tools=[github])
        print(reply.text)
        for item in reply.output:  # typed output items: the tools listed, the calls made
            if isinstance(item, llmport.McpListTools):
                print("tools:", ", ".join(tool.name for tool in item.tools))
            elif isinstance(item, llmport.McpCall):
                print("called:", item.name, item.output if item.error is None else item.error)


if __name__ == "__main__":
    main()
