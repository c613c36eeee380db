"""llmport adds a NullHandler to its logger, once, and configures nothing else."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_a_warning_in_an_app_that_configured_no_logging_prints_nothing() -> None:
    script = textwrap.dedent(
        """
        import logging
        import llmport
        logging.getLogger("llmport.chat").warning("retrying after 429")
        logging.getLogger("llmport").error("an error, too")
        print("done")
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )

    assert (run.returncode, run.stdout, run.stderr) == (0, "done\n", "")


def test_an_app_that_configures_logging_still_sees_llmports_records() -> None:
    script = textwrap.dedent(
        """
        import logging
        import llmport
        logging.basicConfig(format="%(name)s %(message)s")
        logging.getLogger("llmport.chat").warning("retrying after 429")
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )

    assert run.stderr == "llmport.chat retrying after 429\n"


def test_the_null_handler_is_added_once_even_on_reload() -> None:
    script = textwrap.dedent(
        """
        import importlib, logging
        import llmport
        importlib.reload(llmport)
        logger = logging.getLogger("llmport")
        print([type(h).__name__ for h in logger.handlers], logger.level, logging.getLogger().handlers)
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )

    assert run.stdout == "['NullHandler'] 0 []\n", run.stderr
