"""Start-up wiring of apps.common: what a request does not pay for when DEBUG is off or health checks are on."""

import pytest
from django.apps import apps
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, reset_queries


def resets_query_logs() -> bool:
    return any(receiver() is reset_queries for _, receiver, *_ in request_started.receivers)


@pytest.fixture
def connected_as_django_leaves_it():
    # Django connects it at import and every CaptureQueriesContext connects it again on exit.
    request_started.connect(reset_queries)
    yield
    request_started.connect(reset_queries)


def test_with_debug_off_no_request_empties_the_query_logs(connected_as_django_leaves_it, settings):
    settings.DEBUG = False

    apps.get_app_config("common").ready()

    assert not resets_query_logs()


def test_with_debug_on_each_request_starts_with_empty_query_logs(connected_as_django_leaves_it, settings):
    settings.DEBUG = True

    apps.get_app_config("common").ready()

    assert resets_query_logs()


def checks_connections(signal) -> bool:
    return any(receiver() is close_old_connections for _, receiver, *_ in signal.receivers)


@pytest.fixture
def connections_checked_as_django_leaves_it():
    request_started.connect(close_old_connections)
    yield
    request_started.connect(close_old_connections)


def test_with_health_checks_on_connections_are_checked_at_each_request_s_end_only(
    connections_checked_as_django_leaves_it, settings, monkeypatch
):
    for database in settings.DATABASES.values():
        monkeypatch.setitem(database, "CONN_HEALTH_CHECKS", True)

    apps.get_app_config("common").ready()

    assert not checks_connections(request_started)
    assert checks_connections(request_finished)


def test_a_database_without_health_checks_keeps_the_check_at_each_request_s_start(
    connections_checked_as_django_leaves_it, settings, monkeypatch
):
    for database in settings.DATABASES.values():
        monkeypatch.setitem(database, "CONN_HEALTH_CHECKS", True)
    monkeypatch.setitem(settings.DATABASES["payments"], "CONN_HEALTH_CHECKS", False)

    apps.get_app_config("common").ready()

    assert checks_connections(request_started)
    assert checks_connections(request_finished)
