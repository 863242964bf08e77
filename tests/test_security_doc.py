"""docs/security.md names the tests behind its claims: each file and test it names exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "security.md").read_text()


def test_every_file_the_security_doc_names_exists():
    named = set(re.findall(r"`((?:apps|tests)/[\w/]+\.py)", DOC))
    assert named, "the doc names no test file"
    assert {path for path in named if not (ROOT / path).is_file()} == set()


def test_every_test_the_security_doc_names_is_defined():
    defined = {
        name
        for path in [*ROOT.glob("apps/**/tests/*.py"), *ROOT.glob("tests/**/*.py")]
        for name in re.findall(r"^(?:async )?def (test_\w+)", path.read_text(), re.MULTILINE)
    }
    files = {name.removesuffix(".py") for name in re.findall(r"(test_\w+\.py)", DOC)}
    named = set(re.findall(r"\b(test_\w+)\b(?!\*)", DOC)) - files
    # ``test_name_*`` names every test of that prefix.
    prefixes = set(re.findall(r"\b(test_\w+)\*", DOC))
    assert named, "the doc names no test"
    assert named - defined == set()
    assert {prefix for prefix in prefixes if not any(name.startswith(prefix) for name in defined)} == set()
