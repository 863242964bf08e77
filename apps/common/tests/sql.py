"""Checks and values shared by the lean-insert tests of every app."""

import datetime
import zoneinfo

from django.db import connections
from hypothesis import strategies as st

from apps.common.sql import _insert_statement, _params

# Aware datetimes: mostly UTC, which the lean statements prepare themselves, and some in other
# zones, which they leave to the field. Years where every zone's offset stays inside datetime's range.
AWARE_DATETIMES = st.datetimes(
    min_value=datetime.datetime(1900, 1, 2),
    max_value=datetime.datetime(9998, 12, 30),
    timezones=st.sampled_from(
        [
            datetime.UTC,
            datetime.UTC,
            datetime.timezone(datetime.timedelta(hours=5, minutes=30)),
            datetime.timezone(datetime.timedelta(hours=-8)),
            zoneinfo.ZoneInfo("UTC"),
            zoneinfo.ZoneInfo("Europe/Paris"),
        ]
    ),
)


def prepared_both_ways(model, values: dict, *, using: str = "orders") -> tuple[list, list]:
    """``values`` as the lean insert prepares them, and as each model field's ``get_db_prep_save`` would."""
    connection = connections[using]
    fields, plain, _sql = _insert_statement(model, connection, frozenset(values))
    row = [values.get(field.name) for field in fields]
    return _params(fields, plain, row, connection), [
        field.get_db_prep_save(value, connection) for field, value in zip(fields, row, strict=True)
    ]
