"""Azure's error-handling example, with llmport's errors in place of the SDK's classes.

Raw SDK::

    try:
        client.chat.completions.create(...)
    except openai.APIConnectionError as e:   # llmport.ConnectionFailedError (RequestTimeoutError under it)
        print("The server could not be reached")
    except openai.RateLimitError as e:        # llmport.RateLimitedError (QuotaExceededError: out of quota)
        print("A 429 status code was received; we should back off a bit.")
    except openai.APIStatusError as e:        # llmport.LLMPortError with .status_code
        print(e.status_code, e.response)

The SDK's table, status by status: 400 BadRequestError -> llmport.BadRequestError, 401
AuthenticationError -> AuthenticationError, 403 PermissionDeniedError -> PermissionDeniedError, 404
NotFoundError -> NotFoundError, 422 UnprocessableEntityError -> BadRequestError, 429 RateLimitError
-> RateLimitedError, >= 500 InternalServerError -> ServiceUnavailableError, no answer
APIConnectionError -> ConnectionFailedError. llmport has already retried what is worth retrying.
"""

from __future__ import annotations

import sys

import llmport


def main() -> None:
    prompt = sys.argv[1] if len(sys.argv) > 1 else "Hello"
    with llmport.from_env() as client:
        try:
            print(client.chat(prompt).text)
        except llmport.ConnectionFailedError as exc:
            print("The server could not be reached:", exc)
        except llmport.RateLimitedError as exc:
            print("A 429 status code was received; we should back off a bit.", exc.retry_after)
        except llmport.LLMPortError as exc:
            print("Another error status was received:", exc.status_code, exc.code, exc.request_id)


if __name__ == "__main__":
    main()
