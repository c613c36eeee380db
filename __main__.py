"""Run the llmport command: ``python -m llmport``."""

from __future__ import annotations

import sys

from .entrypoints.cli.main import main

sys.exit(main())
