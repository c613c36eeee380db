"""Azure's retries example (``with_options``), with llmport.

Raw SDK::

    client.with_options(max_retries=5).chat.completions.create(model="gpt-4o", messages=[...])

llmport's retries, backoff and deadline are its own (the SDK's are off); ``with_options`` returns a
view sharing the connection pool and token cache, and each call also takes the options itself.
"""

from __future__ import annotations

import llmport


def main() -> None:
    messages = [{"role": "user", "content": "How do I output all files in a directory using Python?"}]
    with llmport.from_env() as client:
        print(client.with_options(max_retries=5).chat(messages).text)
        print(client.chat(messages, max_retries=5, timeout=30).text)  # the same, for one call


if __name__ == "__main__":
    main()
