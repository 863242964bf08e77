"""FlatInputSerializer validates exactly as a plain DRF serializer with the same fields."""

from decimal import Decimal

import pytest
from rest_framework import serializers

from apps.common.serializers import FlatInputSerializer

FIELDS = {
    "user_id": lambda: serializers.IntegerField(min_value=1, max_value=2**63 - 1),
    "quantity": lambda: serializers.IntegerField(min_value=1, max_value=10),
    "total_amount": lambda: serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01")),
    "note": lambda: serializers.CharField(max_length=5, required=False),
}


def serializer_class(base):
    return type(f"Input{base.__name__}", (base,), {name: build() for name, build in FIELDS.items()})


Flat, Plain = serializer_class(FlatInputSerializer), serializer_class(serializers.Serializer)

CASES = [
    {"user_id": 1, "quantity": 2, "total_amount": "19.99"},
    {"user_id": 1, "quantity": 2, "total_amount": "19.99", "note": "hi"},
    {"user_id": 0, "quantity": 11, "total_amount": "0.001"},
    {"user_id": "x", "quantity": None, "total_amount": "abc", "note": "too long"},
    {"quantity": 2},
    {},
    {"user_id": 2**63, "quantity": 1.5, "total_amount": 1e20},
]


@pytest.mark.parametrize("data", CASES)
def test_validates_and_fails_like_a_plain_serializer(data):
    flat, plain = Flat(data=data), Plain(data=data)

    assert flat.is_valid() == plain.is_valid()
    assert flat.errors == plain.errors
    if plain.is_valid():
        assert flat.validated_data == plain.validated_data


def test_each_instance_binds_its_own_fields():
    first, second = Flat(data=CASES[0]), Flat(data=CASES[2])

    assert first.fields["user_id"] is not second.fields["user_id"]
    assert first.fields["user_id"].parent is first
    assert second.fields["user_id"].parent is second
    assert first.is_valid()
    assert not second.is_valid()
    assert Flat._declared_fields["user_id"].parent is None, "the declared field itself is never bound"


def test_nested_fields_keep_the_deep_copy():
    class Nested(FlatInputSerializer):
        items = serializers.ListField(child=serializers.IntegerField())

    first, second = Nested(data={"items": [1]}), Nested(data={"items": [2]})

    assert first.fields["items"].child is not second.fields["items"].child
