"""OpenAI-shaped JSON over the SDK's ``post``: how a ChatRequest becomes JSON, and a reply a ChatResponse.

``adapter`` (WireAdapter, shared by the OpenAI and Azure adapters), ``chat`` (chat.completions),
``responses`` (the Responses API), ``embeddings``, ``errors`` (SDK exceptions to domain errors, in
one place) and ``transport`` (the httpx client: the call's deadline and a byte cap on every request).
"""
