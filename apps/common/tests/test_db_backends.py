"""The database backends keep django-prometheus's query metrics, with one cursor class per connection."""

import pytest
from django.db import connections
from prometheus_client import REGISTRY

pytestmark = pytest.mark.django_db(databases=["orders"])


def executed(alias: str) -> float:
    vendor = connections[alias].vendor
    return REGISTRY.get_sample_value("django_db_execute_total", {"alias": alias, "vendor": vendor}) or 0.0


def test_every_statement_is_still_counted_per_alias():
    before = executed("orders")
    with connections["orders"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.execute("SELECT 2")

    assert executed("orders") - before == 2


def test_cursors_of_one_connection_share_one_wrapper_class():
    with connections["orders"].cursor() as first, connections["orders"].cursor() as second:
        assert type(first.cursor) is type(second.cursor)
        assert type(first.cursor).__name__ == "CursorWrapper"
