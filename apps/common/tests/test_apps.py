"""Start-up wiring of apps.common: what a request does not pay for when DEBUG is off or health checks are on."""

import pytest
from django.apps import apps
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, reset_queries


def receives(signal, function) -> bool:
    return any(receiver() is function for _, receiver, *_ in signal.receivers)


@pytest.fixture(autouse=True)
def request_started_as_django_leaves_it():
    # Django connects both at import (and every CaptureQueriesContext connects reset_queries again on exit).
    request_started.connect(reset_queries)
    request_started.connect(close_old_connections)
    yield
    request_started.connect(reset_queries)
    request_started.connect(close_old_connections)


def test_with_debug_off_no_request_empties_the_query_logs(settings):
    settings.DEBUG = False

    apps.get_app_config("common").ready()

    assert not receives(request_started, reset_queries)


def test_with_debug_on_each_request_starts_with_empty_query_logs(settings):
    settings.DEBUG = True

    apps.get_app_config("common").ready()

    assert receives(request_started, reset_queries)


def test_with_health_checks_on_connections_are_checked_at_each_request_s_end_only(settings, monkeypatch):
    for database in settings.DATABASES.values():
        monkeypatch.setitem(database, "CONN_HEALTH_CHECKS", True)

    apps.get_app_config("common").ready()

    assert not receives(request_started, close_old_connections)
    assert receives(request_finished, close_old_connections)


def test_a_database_without_health_checks_keeps_the_check_at_each_request_s_start(settings, monkeypatch):
    for database in settings.DATABASES.values():
        monkeypatch.setitem(database, "CONN_HEALTH_CHECKS", True)
    monkeypatch.setitem(settings.DATABASES["payments"], "CONN_HEALTH_CHECKS", False)

    apps.get_app_config("common").ready()

    assert receives(request_started, close_old_connections)
    assert receives(request_finished, close_old_connections)
