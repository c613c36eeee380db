"""Azure's streaming example, with llmport.

Raw SDK::

    stream = client.chat.completions.create(model="gpt-4o", messages=[...], stream=True)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content is not None:
            print(chunk.choices[0].delta.content, end="")
"""

from __future__ import annotations

import llmport


def main() -> None:
    with llmport.from_env() as client:
        # Azure's first chunk (prompt filter results, no choices) is not a text chunk: no check needed.
        for chunk in client.stream([{"role": "user", "content": "Tell me a short story."}]):
            print(chunk.text or "", end="", flush=True)
        print()


if __name__ == "__main__":
    main()
