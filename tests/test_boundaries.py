"""import-linter really guards the boundaries: a copy of the code with one bad import fails it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def code_copy(tmp_path):
    for package in ("apps", "config"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def lint_imports(where: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=where,
        env={**os.environ, "PYTHONPATH": str(where)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_code_as_it_is_keeps_every_contract(code_copy):
    result = lint_imports(code_copy)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("apps/orders/violation.py", "from apps.inventory.models import Inventory", "independent"),
        ("apps/payments/violation.py", "from apps.orders.services import order_place", "independent"),
        ("apps/messaging/violation.py", "from apps.orders.models import Order", "know no domain app"),
        # A model module reaching up into the app's services breaks its layers.
        ("apps/inventory/models.py", "from apps.inventory import services  # noqa", "inventory is layered"),
        # The relay sending its Celery task by import again: the relay <-> tasks circle is back.
        ("apps/messaging/relay.py", "from apps.messaging.tasks import relay_outbox  # noqa", "messaging is layered"),
        # A new messaging module has to take its place in the layers.
        ("apps/messaging/violation.py", "", "messaging is layered"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(code_copy, module, line, broken):
    path = code_copy / module
    path.write_text((path.read_text() if path.exists() else "") + "\n" + line + "\n")

    result = lint_imports(code_copy)

    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    _, _, broken_contracts = result.stdout.partition("Broken contracts")
    assert broken in broken_contracts
