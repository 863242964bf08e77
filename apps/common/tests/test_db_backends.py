"""The database backends keep django-prometheus's query metrics, with one cursor class per connection."""

import contextlib

import pytest
from django.db import connections, transaction
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


def sample(name: str, alias: str, **labels) -> float:
    vendor = connections[alias].vendor
    return REGISTRY.get_sample_value(name, {"alias": alias, "vendor": vendor, **labels}) or 0.0


def test_statements_are_timed_and_batches_counted_per_row():
    before = {
        name: sample(name, "orders")
        for name in ("django_db_query_duration_seconds_count", "django_db_execute_many_total")
    }
    with connections["orders"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.executemany("UPDATE django_migrations SET app = app WHERE id = %s", [(1,), (2,), (3,)])

    assert (
        sample("django_db_query_duration_seconds_count", "orders") - before["django_db_query_duration_seconds_count"]
        == 2
    )
    assert sample("django_db_execute_many_total", "orders") - before["django_db_execute_many_total"] == 3


def _fail(cursor) -> str:
    try:
        cursor.execute("SELECT * FROM no_such_table")
    except Exception as exc:  # Django's error, caused by the driver's, which the metric names
        return type(exc.__cause__ or exc).__name__
    raise AssertionError("the statement did not fail")


def test_a_failed_statement_still_raises_and_is_counted_by_exception_type():
    with connections["orders"].cursor() as cursor:
        error_type = _fail(cursor)
        before = sample("django_db_errors_total", "orders", type=error_type)
        assert _fail(cursor) == error_type

    assert sample("django_db_errors_total", "orders", type=error_type) - before == 1


def test_cursors_of_one_connection_share_one_wrapper_class():
    with connections["orders"].cursor() as first, connections["orders"].cursor() as second:
        assert type(first.cursor) is type(second.cursor)
        assert type(first.cursor).__name__ == "CursorWrapper"


# --- MariaDB: START TRANSACTION instead of toggling autocommit ------------------------
def _in_transaction(alias: str) -> int:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT @@in_transaction, @@autocommit")
        in_transaction, autocommit = cursor.fetchone()
    assert autocommit == 1, "the session never leaves autocommit mode"
    return in_transaction


def _visible_elsewhere(marker: str) -> bool:
    """Whether another connection sees the django_migrations row named ``marker``."""
    import MySQLdb

    settings = connections["orders"].settings_dict
    other = MySQLdb.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=int(settings["PORT"] or 3306),
        user=settings["USER"],
        password=settings["PASSWORD"],
        database=settings["NAME"],
    )
    try:
        cursor = other.cursor()
        cursor.execute("SELECT COUNT(*) FROM django_migrations WHERE app = %s", [marker])
        return cursor.fetchone()[0] == 1
    finally:
        other.close()


def _insert_marker(marker: str) -> None:
    with connections["orders"].cursor() as cursor:
        cursor.execute("INSERT INTO django_migrations (app, name, applied) VALUES (%s, 'x', NOW())", [marker])


@pytest.mark.mariadb
@pytest.mark.django_db(databases=["orders"], transaction=True)
class TestExplicitTransactions:
    @pytest.fixture(autouse=True)
    def _remove_markers(self):
        yield
        with connections["orders"].cursor() as cursor:
            cursor.execute("DELETE FROM django_migrations WHERE app LIKE 'txn-%%'")

    def test_atomic_is_one_transaction_committed_at_the_end(self):
        assert _in_transaction("orders") == 0
        with transaction.atomic(using="orders"):
            _insert_marker("txn-commit")
            assert _in_transaction("orders") == 1
            assert not _visible_elsewhere("txn-commit")
        assert _in_transaction("orders") == 0
        assert _visible_elsewhere("txn-commit")

    def test_an_error_rolls_everything_back(self):
        with contextlib.suppress(RuntimeError), transaction.atomic(using="orders"):
            _insert_marker("txn-rollback")
            raise RuntimeError
        assert _in_transaction("orders") == 0
        assert not _visible_elsewhere("txn-rollback")

    def test_savepoints_work_inside(self):
        with transaction.atomic(using="orders"):
            _insert_marker("txn-outer")
            with contextlib.suppress(RuntimeError), transaction.atomic(using="orders"):
                _insert_marker("txn-inner")
                raise RuntimeError
        assert _visible_elsewhere("txn-outer")
        assert not _visible_elsewhere("txn-inner")

    def test_switching_autocommit_back_on_commits_like_the_server_does(self):
        connection = connections["orders"]
        connection.set_autocommit(False)
        _insert_marker("txn-implicit")
        connection.set_autocommit(True)
        assert _in_transaction("orders") == 0
        assert _visible_elsewhere("txn-implicit")
