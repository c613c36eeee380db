"""Services: retries, token caching, batching and logging around the ports."""
