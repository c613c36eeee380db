"""What `pip show` and an index show of the installed package, and what `import llmport` says of itself."""

from __future__ import annotations

import re
import sys
from importlib import metadata

import llmport

META = metadata.metadata("llmport")


def test_version_is_the_installed_distributions() -> None:
    assert llmport.__version__ == metadata.version("llmport")
    assert re.fullmatch(r"\d+\.\d+\.\d+", llmport.__version__)


def test_the_licence_is_in_the_field_every_pip_shows() -> None:
    # pip before 25.1 prints only `License`; newer ones also read the classifier and the file.
    assert META["License"] == "MIT"
    assert "License :: OSI Approved :: MIT License" in META.get_all("Classifier", [])


def test_classifiers_declare_python_3_10_to_3_13_and_this_one() -> None:
    declared = {
        classifier.rsplit(" :: ", 1)[1]
        for classifier in META.get_all("Classifier", [])
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", classifier)
    }
    assert declared == {"3.10", "3.11", "3.12", "3.13"}
    assert META["Requires-Python"] == ">=3.10"
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in declared


def test_project_urls_name_the_source_and_the_issues() -> None:
    urls = dict(entry.split(", ", 1) for entry in META.get_all("Project-URL", []))
    assert {"Homepage", "Source", "Issues", "Documentation"} <= set(urls)
    assert all(url.startswith("https://") for url in urls.values())
