"""Every route, asked anonymously under production settings, answers as docs/security.md's table says."""

import json
import os
import subprocess
import sys

import pytest

from tests.surface import EVERY_OTHER_ADMIN_PAGE, EVERY_OTHER_OPERATION, SECURITY_MD, documented_surface

ROOT = SECURITY_MD.parent.parent
# Long and random enough for security.W009.
PRODUCTION_SECRET = "k7#Qw9!zR2@vX5$mT8^pL3&nB6*hJ1(dF4)sG0-yC_eU+aZ=oI"
# Production defaults only: none of the switches a developer's shell might hold.
UNSET = ("TEST_DB", "DJANGO_DEBUG", "API_DOCS_PUBLIC", "METRICS_PUBLIC", "DJANGO_SSL_REDIRECT", "DJANGO_ALLOWED_HOSTS")


@pytest.fixture(scope="module")
def answers(tmp_path_factory) -> list[dict]:
    workdir = tmp_path_factory.mktemp("surface")
    env = {name: value for name, value in os.environ.items() if name not in UNSET and not name.endswith("DATABASE_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY=PRODUCTION_SECRET,
        VAR_DIR=str(workdir),
        LOG_LEVEL="WARNING",
    )
    (workdir / "static").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "tests.surface", str(workdir / "answers.json")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads((workdir / "answers.json").read_text())


def row_for(answer: dict, table: dict) -> str:
    if answer["request"] in table:
        return answer["request"]
    if answer["kind"] == "operation":
        return EVERY_OTHER_OPERATION
    if answer["path"].startswith("/admin/"):
        return EVERY_OTHER_ADMIN_PAGE
    pytest.fail(f"{answer['request']} (route {answer['route']!r}) answers anonymous callers: add it to {SECURITY_MD}")


def test_every_route_answers_an_anonymous_caller_as_docs_security_md_says(answers):
    table = documented_surface()
    rows_seen = set()
    for answer in answers:
        row = row_for(answer, table)
        rows_seen.add(row)
        assert (answer["https"]["status"], answer["http"]["status"]) == table[row], (row, answer)

    assert rows_seen == set(table), "a row of the table matches no route"
    assert len([answer for answer in answers if answer["kind"] == "operation"]) >= 15


def test_plain_http_is_redirected_to_https_everywhere_but_the_probes(answers):
    for answer in answers:
        if answer["path"] in ("/health", "/ready"):
            assert answer["http"]["status"] == 200
        else:
            assert answer["http"]["status"] == 301, answer
            assert answer["http"]["location"].startswith("https://"), answer


def test_metrics_docs_and_schema_are_not_served_to_anonymous_callers(answers):
    by_path = {answer["path"]: answer for answer in answers}

    assert by_path["/metrics"]["https"] == {"status": 404, "location": "", "code": "NOT_FOUND"}
    assert by_path["/metrics"]["http"]["status"] != 200, "plain HTTP /metrics must not be served either"
    for path in ("/api/schema/", "/api/docs/"):
        assert (by_path[path]["https"]["status"], by_path[path]["https"]["code"]) == (401, "UNAUTHORIZED")


def test_a_refused_api_call_is_json_and_an_admin_page_sends_to_the_login(answers):
    for answer in answers:
        if answer["https"]["status"] == 401:
            assert answer["https"]["code"] == "UNAUTHORIZED", answer
        if row_for(answer, documented_surface()) == EVERY_OTHER_ADMIN_PAGE:
            assert answer["https"]["location"].startswith("/admin/login/?next="), answer
