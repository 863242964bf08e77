"""Liveness and readiness: /health and /ready."""

import pytest
from django.conf import settings
from django.db import OperationalError, connections
from rest_framework.test import APIClient

from apps.common.tests.http import assert_json_error

ALL_DATABASES = list(settings.DATABASES)


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_health():
    response = APIClient().get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_ready_says_ready_and_nothing_else():
    response = APIClient().get("/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_a_database_that_does_not_answer_makes_it_not_ready_and_only_the_log_says_which(monkeypatch, caplog):
    def refuse():
        raise OperationalError("(2003, \"Can't connect to MySQL server on 'payments-db'\")")

    monkeypatch.setattr(connections["payments"], "cursor", refuse)
    caplog.set_level("WARNING", logger="common.ready")

    response = APIClient().get("/ready")

    body = assert_json_error(response, 503, "NOT_READY")
    assert body == {"error": "Not ready.", "code": "NOT_READY"}
    [logged] = [record.msg for record in caplog.records if isinstance(record.msg, dict)]
    assert logged["event"] == "ready.database_unavailable"
    assert (logged["database"], logged["error"]) == ("payments", "OperationalError")
