"""The README's commands work when pasted: shell blocks are plain ASCII, and what they name exists.

A typographic quote, dash or ellipsis looks right on the page and breaks the
command in a terminal (curl gets a header named with a curly quote, bash an
argument it never expected), so no shell block of the README or docs/ holds a
character outside ASCII, comments included: they are pasted along.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHELL_BLOCK = re.compile(r"^```(?:sh|bash|shell|console)\n(.*?)^```", re.M | re.S)
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted((ROOT / "deploy").rglob("*.md"))]


def shell_lines(path: Path) -> list[tuple[int, str]]:
    text = path.read_text()
    lines = []
    for block in SHELL_BLOCK.finditer(text):
        first = text.count("\n", 0, block.start(1)) + 1
        lines += [(first + offset, line) for offset, line in enumerate(block.group(1).splitlines())]
    return lines


def test_the_readme_has_shell_blocks_to_check():
    lines = [line for _, line in shell_lines(ROOT / "README.md")]

    assert any("Idempotency-Key" in line for line in lines)
    assert any(line.startswith("PAYMENT_FAILURE_RATE=1 make run") for line in lines)
    assert any(line.startswith("ADDRPORT=") for line in lines)


def test_every_shell_line_is_plain_ascii():
    offending = [
        f"{path.relative_to(ROOT)}:{number}: {sorted({c for c in line if not c.isascii()})} in {line.strip()!r}"
        for path in DOCUMENTS
        for number, line in shell_lines(path)
        if not line.isascii()
    ]

    assert not offending, "\n".join(offending)


def test_every_make_target_the_readme_names_exists():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))

    named = set(re.findall(r"`make (?:-s )?([a-z][a-z-]*)`", (ROOT / "README.md").read_text()))
    named |= {
        m for _, line in shell_lines(ROOT / "README.md") for m in re.findall(r"\bmake (?:-s )?([a-z][a-z-]*)", line)
    }

    assert {"run", "admin-password"} <= named
    assert named <= targets, f"the README names make targets the Makefile lacks: {sorted(named - targets)}"
