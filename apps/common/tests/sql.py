"""A check shared by the lean-insert tests of every app."""

from django.db import connections

from apps.common.sql import _insert_statement, _params


def prepared_both_ways(model, values: dict, *, using: str = "orders") -> tuple[list, list]:
    """``values`` as the lean insert prepares them, and as each model field's ``get_db_prep_save`` would."""
    connection = connections[using]
    fields, plain, _sql = _insert_statement(model, connection, frozenset(values))
    row = [values.get(field.name) for field in fields]
    return _params(fields, plain, row, connection), [
        field.get_db_prep_save(value, connection) for field, value in zip(fields, row, strict=True)
    ]
