"""The LLM wire: OpenAI, Azure OpenAI classic and v1, all through the official openai SDK (wire/)."""
