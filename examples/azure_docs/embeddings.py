"""Azure's embeddings example, with llmport.

Raw SDK::

    response = client.embeddings.create(
        model="text-embedding-3-large", input="How do I use Python in VS Code?"
    )
    print(response.data[0].embedding)
"""

from __future__ import annotations

import llmport


def main() -> None:
    with llmport.from_env() as client:
        response = client.embed(["How do I use Python in VS Code?"])  # any number of texts: batched
        print(list(response.vectors[0]))
        print(response.usage.prompt_tokens)


if __name__ == "__main__":
    main()
