"""The README's quickstart, pasted: its shell blocks run as written against the embedded mode.

Each block runs in bash from the checkout, as a newcomer pastes it into a second
terminal while ``make run`` serves; only the address changes (the README says
how, for another ``ADDRPORT``). ``curl`` is wrapped to put a separator after each
answer, so every command's answer is checked against what the README says of it.
"""

import json
import re
import subprocess
import sys

import pytest

from tests.e2e.test_embedded import Embedded
from tests.stack import ROOT

pytestmark = [pytest.mark.embedded]
SHELL_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.M | re.S)
SEPARATOR = "----- end of answer -----"
CURL_WITH_SEPARATOR = f'curl() {{ command curl -sS "$@"; printf "\\n{SEPARATOR}\\n"; }}\n'


def readme_block(containing: str) -> str:
    [block] = [b.group(1) for b in SHELL_BLOCK.finditer((ROOT / "README.md").read_text()) if containing in b.group(1)]
    return block


def paste(app: Embedded, block: str) -> list[str]:
    """Run ``block`` as pasted into bash against ``app``; the answer of each curl, in order."""
    script = CURL_WITH_SEPARATOR + block.replace("127.0.0.1:8000", f"127.0.0.1:{app.port}")
    env = {**app.env, "PATH": f"{ROOT / '.venv' / 'bin'}:{app.env['PATH']}"}
    ran = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert ran.returncode == 0, f"the block failed ({ran.returncode}):\n{ran.stderr}\n{ran.stdout}"
    return [answer.strip() for answer in ran.stdout.split(SEPARATOR)[:-1]]


def body(answer: str) -> dict:
    """The JSON body of an answer, also of one printed with its headers (curl -i)."""
    return json.loads(answer[answer.index("{") :]) if answer else {}


def test_the_quickstart_and_the_payment_failure_work_when_pasted(tmp_path):
    app = Embedded(tmp_path).start()
    try:
        subprocess.run(
            [sys.executable, "manage.py", "load_demo_catalog"], cwd=ROOT, env=app.env, check=True, timeout=120
        )
        answers = paste(app, readme_block("create_customer alice --password"))
    finally:
        app.stop()

    [products, restock, placed, order, seed_order, idempotent, sagas, cancel, mine, anonymous, login, logout] = answers
    assert [p["product_id"] for p in body(products)["products"]][:2] == [1001, 1002]
    assert body(restock)["product_id"] == 1003
    assert (body(placed)["order_id"], body(placed)["status"]) == (1, "PENDING")
    assert [line["product_id"] for line in body(order)["lines"]] == [1001, 1002]
    assert body(seed_order)["order_id"] == 2
    assert idempotent.startswith("HTTP/1.1 201")
    assert body(idempotent)["order_id"] == 3
    assert {saga["order_id"] for saga in body(sagas)["sagas"]} == {1}
    assert (body(cancel)["order_id"], body(cancel)["status"]) == (1, "CANCELLING")
    assert sorted(o["id"] for o in body(mine)["orders"]) == [1, 3]
    assert body(anonymous) == {"error": "Authentication credentials were not provided.", "code": "UNAUTHORIZED"}
    assert {"token", "expiry"} <= body(login).keys()
    assert logout == ""

    declining = Embedded(tmp_path).start(PAYMENT_FAILURE_RATE="1")
    try:
        failure_block = readme_block("PAYMENT_FAILURE_RATE=1 make run")
        # make run is the other terminal's command: that terminal is the embedded process started above.
        [placed, _, _] = paste(declining, failure_block.replace("PAYMENT_FAILURE_RATE=1 make run\n", ""))
        assert body(placed)["order_id"] == 4
        declining.wait(lambda: declining.order_status(4) == "COMPENSATED", "order 4 COMPENSATED", timeout=10)
        payment = declining.http("GET", "/payments/4")[1]
    finally:
        declining.stop()

    assert (payment["status"], payment["failure_reason"]) == ("FAILED", "payment declined")
