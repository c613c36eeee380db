"""Azure's Responses API example, with llmport.

Raw SDK::

    client = OpenAI(base_url=f"{endpoint}/openai/v1/", api_key=token_provider_or_key)
    response = client.responses.create(model="gpt-4.1-nano", input="This is a test.")
    print(response.output_text)
    again = client.responses.create(model="gpt-4.1-nano", previous_response_id=response.id, input="...")
"""

from __future__ import annotations

import llmport


def main() -> None:
    with llmport.from_env() as client:
        reply = client.chat("This is a test.", api="responses")
        print(reply.id, reply.text)  # reply.text is the SDK's output_text
        follow_up = client.chat("Explain it again.", api="responses", previous_response_id=reply.id)
        print(follow_up.text)


if __name__ == "__main__":
    main()
