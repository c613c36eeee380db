"""The driving side: the `llmport` command, the Flask extension, the Django app, the HTTP error table."""
