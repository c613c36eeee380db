"""The telemetry adapter reads no other object's private attributes; the conventions' incubating names
(``opentelemetry.semconv._incubating``) are imported by ``adapters/telemetry/names.py`` alone."""

from __future__ import annotations

import re
from pathlib import Path

import llmport

PACKAGE = Path(llmport.__file__).parent
#: ``x._y`` or ``x.z._y`` where ``x`` is not ``self``/``cls``: a read of another object's private name.
FOREIGN_PRIVATE = re.compile(r"(?<![\w.])(?!self\.|cls\.)[A-Za-z]\w*(?:\.\w+)*\._[a-z]\w*")


def _code_lines(path: Path) -> list[tuple[int, str]]:
    return [
        (number, line.split("#")[0])
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if not line.lstrip().startswith(("import ", "from "))
    ]


def test_the_telemetry_modules_read_no_other_objects_private_attributes() -> None:
    found = [
        f"{path.name}:{number}: {match.group(0)}"
        for path in sorted((PACKAGE / "adapters" / "telemetry").glob("*.py"))
        for number, code in _code_lines(path)
        for match in FOREIGN_PRIVATE.finditer(code)
        if not match.group(0).startswith(("self._", "cls._"))
    ]
    assert found == []


def test_only_names_py_imports_the_conventions_incubating_modules() -> None:
    found = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "semconv._incubating" in path.read_text(encoding="utf-8")
    )
    assert found == ["adapters/telemetry/names.py"]
