"""Azure's chat completions example, with llmport.

Raw SDK::

    completion = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
    )
    print(completion.choices[0].message.content)
"""

from __future__ import annotations

import llmport


def main() -> None:
    with llmport.from_env() as client:
        reply = client.chat([{"role": "user", "content": "What is the capital of France?"}])
        print(reply.text)  # the same as reply.choices[0].message.text


if __name__ == "__main__":
    main()
