"""Azure's request-id example, with llmport.

Raw SDK::

    response = client.responses.create(model="gpt-4o", input="...")
    print(response._request_id)
    # on failure: exc.request_id
"""

from __future__ import annotations

import llmport


def main() -> None:
    with llmport.from_env() as client:
        try:
            reply = client.chat("Say this is a test")
        except llmport.LLMPortError as exc:  # every error carries the request id too
            raise SystemExit(f"{type(exc).__name__} {exc.status_code}, request id {exc.request_id}") from None
        print("x-request-id:", reply.request_id, "apim-request-id:", reply.apim_request_id)


if __name__ == "__main__":
    main()
