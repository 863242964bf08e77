"""Liveness and readiness: /health and /ready."""

import pytest
from django.conf import settings
from rest_framework.test import APIClient

ALL_DATABASES = list(settings.DATABASES)


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_health():
    response = APIClient().get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_ready_checks_every_database():
    response = APIClient().get("/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["databases"] == {alias: "ok" for alias in settings.DATABASES}
    assert set(body["databases"]) == {"default", "orders", "inventory", "payments"}
