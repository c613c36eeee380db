"""The domain: models, ports and errors; standard library only."""
