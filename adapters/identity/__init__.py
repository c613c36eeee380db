"""Identity: azure-identity credentials, static tokens, and a user's own token provider."""
