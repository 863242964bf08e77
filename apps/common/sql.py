"""Lean statements for the hot paths: a saga step's few rows, without the ORM's query building.

Building and compiling a query costs the ORM a few hundred microseconds, more
than MariaDB takes to run it; a saga step runs about seven, so a consumer spent
most of its CPU composing SQL. These helpers send fixed, parameterised SQL
through Django's own connection (its transaction, its atomic blocks and its
database instrumentation all still apply) and adapt values with the model
fields' own ``get_db_prep_save`` (a plain int or str it would return as it is
skips the call), so a row written here is the row
``Model.objects.create`` would write: same defaults, same ``auto_now`` stamps,
same JSON, UUID, decimal and datetime encoding on MariaDB and SQLite.

Everything else (admin, APIs, operator actions, audits) stays on the ORM.
"""

import contextlib
import contextvars
import dataclasses
import datetime
import uuid
from collections.abc import Sequence

from django.db import DatabaseError, connections, models, transaction
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import DEFERRED
from django.utils import timezone


def sql_insert(*, using: str, model: type[models.Model], values: dict) -> int:
    """INSERT one ``model`` row with ``values`` (field name -> Python value); return its primary key.

    Fields left out get their default, or now for ``auto_now``/``auto_now_add``.
    A unique violation raises IntegrityError, as ``create()`` would.
    """
    return _insert(using, model, values)[0]


def sql_create(*, using: str, model: type[models.Model], values: dict) -> models.Model:
    """sql_insert, returning the instance ``create()`` would: the values written, defaults and stamps included."""
    pk, written = _insert(using, model, values)
    # Every concrete field's value in order: Model.__init__'s positional path, a fraction of its keyword one.
    row = [
        written[field.attname] if field.attname in written else pk if field.primary_key else field.get_default()
        for field in model._meta.concrete_fields
    ]
    return model.from_db(using, None, row)


def sql_insert_many(*, using: str, model: type[models.Model], rows: Sequence[dict]) -> None:
    """INSERT several ``model`` rows, all with the same fields given, in one statement where the driver can.

    mysqlclient turns ``executemany`` of an INSERT into one multi-row INSERT; SQLite loops in C.
    """
    if not rows:
        return
    connection = connections[using]
    fields, plain, sql = _insert_statement(model, connection, frozenset(rows[0]))
    now = timezone.now()
    params = [_params(fields, plain, [_value(field, row, now) for field in fields], connection) for row in rows]
    _cursor(connection).executemany(sql, params)


def sql_insert_later(*, using: str, model: type[models.Model], values: dict) -> None:
    """sql_insert, or, inside ``sql_batch`` on ``using``, one more row for the batch's multi-row INSERT.

    For rows nothing reads back in the same transaction (history, audit), so no primary key is returned.
    """
    batch = _batch.get()
    if batch is not None and batch.using == using:
        batch.rows.setdefault((model, frozenset(values)), []).append(values)
        return
    _insert(using, model, values)


class BatchFailed(Exception):
    """A statement failed inside ``sql_batch`` where, alone, a savepoint would have let the caller go on."""


@contextlib.contextmanager
def sql_savepoint(*, using: str):
    """A savepoint around the block, so the caller may catch a database error from it and go on.

    Inside ``sql_batch`` on ``using`` no savepoint is taken (two round trips
    fewer): a database error leaves the block as BatchFailed, which callers do
    not catch, and the batch's transaction is rolled back whole and its work
    done again piece by piece, each with its savepoint.
    """
    batch = _batch.get()
    if batch is None or batch.using != using:
        with transaction.atomic(using=using):
            yield
        return
    try:
        yield
    except DatabaseError as exc:
        raise BatchFailed(f"{type(exc).__name__}: {exc}") from exc


@contextlib.contextmanager
def sql_batch(*, using: str):
    """Mark the block as one all-or-nothing batch on ``using``: on any error its whole transaction is rolled back.

    The caller (a consumer handling a batch of messages in one transaction) must
    then do the work again outside a batch. Inside: ``sql_insert_later`` rows are
    gathered and written at the block's end, one INSERT per model (and set of
    fields) in the order they came; ``sql_savepoint`` takes no savepoint. If the
    block raises, nothing gathered is written.
    """
    batch = _Batch(using, {})
    token = _batch.set(batch)
    try:
        yield
    finally:
        _batch.reset(token)
    for (model, _fields), values in batch.rows.items():
        sql_insert_many(using=using, model=model, rows=values)


@dataclasses.dataclass
class _Batch:
    using: str
    rows: dict[tuple, list[dict]]


_batch: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar("sql_batch", default=None)


def sql_execute(*, using: str, sql: str, params: Sequence = ()) -> int:
    """Run one statement (UPDATE, DELETE, ...) with ``%s`` placeholders; return the rows it touched."""
    cursor = _cursor(connections[using])
    cursor.execute(sql, params)
    return cursor.rowcount


def sql_rows(
    *, using: str, sql: str, params: Sequence = (), for_update: bool = False, skip_locked: bool = False
) -> list[tuple]:
    """The rows of one SELECT, as tuples of the driver's values (see sql_uuid, sql_instance).

    ``for_update`` locks them until the transaction ends, where the database
    locks rows (SQLite serializes writers instead); ``skip_locked`` also passes
    over rows another transaction holds.
    """
    connection = connections[using]
    if (for_update or skip_locked) and connection.features.has_select_for_update:
        sql = f"{sql} FOR UPDATE SKIP LOCKED" if skip_locked else f"{sql} FOR UPDATE"
    cursor = _cursor(connection)
    cursor.execute(sql, params)
    return cursor.fetchall()


def sql_in(values: Sequence) -> str:
    """``(%s, %s, ...)``: one placeholder per value, for ``column IN`` with parameters."""
    return "(" + ", ".join(["%s"] * len(values)) + ")"


def sql_param(*, using: str, model: type[models.Model], field: str, value):
    """``value`` encoded for a placeholder compared with or written to ``model.field``."""
    return _prepared(model._meta.get_field(field), value, connections[using])


def sql_instance(*, using: str, model: type[models.Model], fields: Sequence[str], row: Sequence) -> models.Model:
    """A ``model`` instance from ``row``, the values of ``fields`` in that order, loaded as the ORM loads one.

    Each value goes through the backend's and the field's own converters, so
    datetimes come back aware, UUIDs as UUID and decimals exact on SQLite too.
    Fields left out are deferred: reading one costs a query, as after ``only()``.
    """
    connection = connections[using]
    loaded = {}
    for (attname, column, converters), value in zip(_readers(connection, model, tuple(fields)), row, strict=True):
        for converter in converters:
            value = converter(value, column, connection)
        loaded[attname] = value
    return model.from_db(using, loaded, [loaded.get(field.attname, DEFERRED) for field in model._meta.concrete_fields])


def sql_uuid(value) -> uuid.UUID | None:
    """A UUID column as read back: native UUID text on MariaDB, 32 hex digits on SQLite."""
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(str(value))


def _cursor(connection):
    """A cursor on ``connection`` for one statement: the one its last statement here used, while it can be.

    Django's ``cursor()`` makes a new driver cursor and wrapper for every
    statement, which these helpers then closed again: 8.5 µs a statement, a
    saga step runs several. The cursor made for this database connection is
    kept on it and used again; the driver discards a statement's leftover
    results before the next one runs. Each statement still goes through
    Django's cursor wrapper (its error translation, its broken-transaction
    check, the query metrics), and each use still runs the connection's health
    check first (a ping at the first statement of a request or batch, with
    CONN_HEALTH_CHECKS). A new cursor is made once the connection was closed or
    replaced, and whenever queries are being logged (DEBUG, or a test capturing
    them), so that a logging cursor records them.
    """
    connection.close_if_health_check_failed()
    kept = connection.__dict__.get("_lean_cursor")
    if kept is not None and kept[0] is connection.connection is not None and not connection.queries_logged:
        return kept[1]
    cursor = connection.cursor()
    connection._lean_cursor = None if connection.queries_logged else (connection.connection, cursor)
    return cursor


_INSERTS: dict[tuple, tuple[list, list, str]] = {}
_READERS: dict[tuple, list[tuple]] = {}

# Field classes whose get_db_prep_save returns a value of these exact types as it is (Django 5.2):
# a text field's str or None, an integer field's int or None where the backend adapts integers as
# the base operations do (MariaDB, SQLite; not PostgreSQL). Subclasses may prepare values their own
# way, so only these exact classes qualify; every other value still goes through its field.
_TEXT_FIELDS = frozenset({models.CharField, models.TextField})
_INTEGER_FIELDS = frozenset(
    {
        models.IntegerField,
        models.BigIntegerField,
        models.SmallIntegerField,
        models.PositiveIntegerField,
        models.PositiveBigIntegerField,
        models.PositiveSmallIntegerField,
    }
)
_NO_PASSTHROUGH: frozenset[type] = frozenset()


def _passthrough(field, connection) -> frozenset[type]:
    """The exact value types ``field.get_db_prep_save`` returns unchanged on ``connection``."""
    if type(field) in _TEXT_FIELDS:
        return frozenset({str, type(None)})
    integers_as_is = type(connection.ops).adapt_integerfield_value is BaseDatabaseOperations.adapt_integerfield_value
    if type(field) in _INTEGER_FIELDS and integers_as_is:
        return frozenset({int, type(None)})
    return _NO_PASSTHROUGH


def _params(fields: list, plain: list[frozenset[type]], values: list, connection) -> list:
    # A plain int or str skips the field's preparation, which would return it as it is (a third of
    # an insert's client CPU went to get_db_prep_save); anything else is prepared by its field.
    return [
        value if type(value) in passthrough else _prepared(field, value, connection)
        for field, passthrough, value in zip(fields, plain, values, strict=True)
    ]


# Backends whose adapt_datetimefield_value turns an aware datetime into the text of its naive
# value in the connection's time zone (Django 5.2's MySQL and SQLite operations, not a subclass's own).
_DATETIMES_AS_TEXT = frozenset({"django.db.backends.mysql.operations", "django.db.backends.sqlite3.operations"})
_UTC = datetime.UTC


def _prepared(field, value, connection):
    """``field.get_db_prep_save(value, connection)``, with a short cut for the saga rows' timestamps.

    A UTC datetime (``timezone.now()``, or one read back) written to a plain
    DateTimeField on a UTC connection is what Django would make of it, the text
    of its naive value, without the six calls Django takes to get there (a
    tenth of a saga step's client CPU). Any other value, field or time zone
    goes through the field.
    """
    if (
        type(value) is datetime.datetime
        and value.tzinfo is _UTC
        and type(field) is models.DateTimeField
        and connection.timezone is _UTC
        and type(connection.ops).adapt_datetimefield_value.__module__ in _DATETIMES_AS_TEXT
    ):
        return str(value.replace(tzinfo=None))
    return field.get_db_prep_save(value, connection)


def _insert_statement(model: type[models.Model], connection, given: frozenset) -> tuple[list, list, str]:
    key = (model, connection.vendor, given)
    if key not in _INSERTS:
        fields = [
            field
            for field in model._meta.concrete_fields
            if not isinstance(field, models.AutoField) and (field.name in given or _has_implicit_value(field))
        ]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in fields)
        placeholders = ", ".join(["%s"] * len(fields))
        # Identifiers come from the model's metadata, every value goes through a placeholder.
        sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
        _INSERTS[key] = (fields, [_passthrough(field, connection) for field in fields], sql)
    return _INSERTS[key]


def _readers(connection, model: type[models.Model], fields: tuple[str, ...]) -> list[tuple]:
    # The converters read only the alias's settings (its time zone), never the connection's state.
    key = (connection.alias, model, fields)
    if key not in _READERS:
        readers = []
        for name in fields:
            column = model._meta.get_field(name).cached_col
            converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            readers.append((column.target.attname, column, converters))
        _READERS[key] = readers
    return _READERS[key]


def _insert(using: str, model: type[models.Model], values: dict) -> tuple[int, dict]:
    connection = connections[using]
    fields, plain, sql = _insert_statement(model, connection, frozenset(values))
    now = timezone.now()
    row = [_value(field, values, now) for field in fields]
    written = {field.attname: value for field, value in zip(fields, row, strict=True)}
    params = _params(fields, plain, row, connection)
    cursor = _cursor(connection)
    cursor.execute(sql, params)
    return cursor.lastrowid, written


def _has_implicit_value(field) -> bool:
    return field.has_default() or getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)


def _value(field, values: dict, now):
    if field.name in values:
        return values[field.name]
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return now
    return field.get_default()
