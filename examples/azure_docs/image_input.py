"""Azure's image input example (a vision-capable deployment), with llmport.

Raw SDK::

    response = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "What's in this image?"},
            {"type": "image_url", "image_url": {"url": "https://.../image.jpg"}},
        ]}],
    )
"""

from __future__ import annotations

import sys

import llmport

IMAGE = "https://upload.wikimedia.org/wikipedia/commons/3/3f/Fronalpstock_big.jpg"


def main() -> None:
    # The same dicts as the SDK's; a local file: llmport.ImagePart.from_file("photo.jpg").
    content = [
        {"type": "text", "text": "What's in this image?"},
        {"type": "image_url", "image_url": {"url": sys.argv[1] if len(sys.argv) > 1 else IMAGE}},
    ]
    with llmport.from_env() as client:
        print(client.chat([{"role": "user", "content": content}]).text)


if __name__ == "__main__":
    main()
