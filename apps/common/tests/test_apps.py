"""Start-up wiring of apps.common: what a request does not pay for when DEBUG is off."""

import pytest
from django.apps import apps
from django.core.signals import request_started
from django.db import reset_queries


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
