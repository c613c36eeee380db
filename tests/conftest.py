"""Every suite's shared fixtures: tests/support (on the path through pyproject's ``pythonpath``)."""

pytest_plugins = ["shared_fixtures"]
