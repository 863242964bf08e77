"""Generated bodies and headers into every consumer: nothing escapes, bad ones dead-letter, good ones land.

The handlers are the real ones (orders, inventory, payments). A message the
runtime cannot act on must come back as DEAD_LETTER (never an exception, which
would kill the consumer's loop, and never RETRY, which would cycle it through
the retry queue for nothing); a good message in the same batch still takes
effect.
"""

import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.inventory.models import Inventory, InventoryLog
from apps.messaging.consumer import ConsumerSpec, Delivery, Outcome, handle_batch, handle_delivery
from apps.messaging.tests.signed import signed_delivery

pytestmark = pytest.mark.django_db(databases=["orders", "inventory", "payments"], transaction=True)

CONSUMERS = ["orders", "inventory", "payments"]
ROUTING_KEYS = [
    "inventory.reserve",
    "inventory.release",
    "inventory.commit",
    "payment.process",
    "payment.refund",
    "inventory.reserved",
    "inventory.released",
    "inventory.committed",
    "payment.processed",
    "payment.refunded",
]
FIELDS = ["saga_id", "order_id", "product_id", "quantity", "amount", "success", "reason", "transaction_id"]
EXAMPLES = 150

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=300),
    st.uuids().map(str),
    st.sampled_from(["1e999", "-0", "0.001", "NaN", "9" * 40, "19.99", "\x00"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)
# Bodies that look like contracts, field by field, with any value in each field.
contract_like = st.dictionaries(st.sampled_from(FIELDS), json_values, min_size=2, max_size=len(FIELDS))
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda value: json.dumps(value).encode()),
    contract_like.map(lambda value: json.dumps(value).encode()),
    st.text(max_size=50).map(lambda text: f'{{"reason": "{text}\\ud800"}}'.encode()),
)
header_values = st.one_of(
    scalars, st.binary(max_size=20), st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=5), scalars)
)
headers = st.dictionaries(
    st.one_of(
        st.sampled_from(["trace_id", "traceparent", "saga_id", "x-original-routing-key", "x-retry-count"]),
        st.text(max_size=10),
    ),
    header_values,
    max_size=5,
)
deliveries = st.builds(
    Delivery,
    body=bodies,
    routing_key=st.one_of(st.sampled_from(ROUTING_KEYS), st.text(max_size=30)),
    message_id=st.one_of(st.none(), st.uuids().map(str), st.text(max_size=40)),
    headers=headers,
)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def good_reserve(order_id: int) -> Delivery:
    body = {"saga_id": str(uuid.uuid4()), "order_id": order_id, "product_id": 4242, "quantity": 1}
    return signed_delivery(routing_key="inventory.reserve", body=body, headers={"trace_id": "fuzz"})


@pytest.mark.parametrize("name", CONSUMERS)
def test_no_delivery_escapes_or_cycles_through_retries(name):
    spec = ConsumerSpec.from_settings(name)

    @FUZZ
    @given(delivery=deliveries)
    def check(delivery):
        result = handle_delivery(spec, delivery)
        assert result.outcome is not Outcome.RETRY, result.reason

    check()


def test_good_messages_take_effect_beside_generated_ones_in_a_batch():
    spec = ConsumerSpec.from_settings("inventory")
    Inventory.objects.create(product_id=4242, available_qty=1_000_000)
    order_ids = iter(range(1, 10_000))

    @FUZZ
    @given(noise=st.lists(deliveries, min_size=1, max_size=6), position=st.integers(min_value=0, max_value=6))
    def check(noise, position):
        good = good_reserve(next(order_ids))
        batch = [*noise[:position], good, *noise[position:]]

        results = handle_batch(spec, batch)

        assert len(results) == len(batch)
        assert results[batch.index(good)].outcome is Outcome.OK
        assert all(result.outcome is not Outcome.RETRY for result in results), results
        assert InventoryLog.objects.filter(order_id=json.loads(good.body)["order_id"], action="RESERVE").exists()

    check()


@pytest.mark.parametrize(
    "delivery",
    [
        Delivery(body=b"{not json", routing_key="inventory.reserve", message_id=str(uuid.uuid4()), headers={}),
        Delivery(body=b"{}", routing_key="inventory.reserve", message_id=None, headers={}),
        Delivery(body=b"{}", routing_key="x", message_id=str(uuid.uuid4()), headers={"x-original-routing-key": [1]}),
        Delivery(
            body=json.dumps({"saga_id": str(uuid.uuid4()), "order_id": 2**64, "product_id": 1, "quantity": 1}).encode(),
            routing_key="inventory.reserve",
            message_id=str(uuid.uuid4()),
            headers={},
        ),
    ],
    ids=["not-json", "no-message-id", "unhashable-original-key", "order-id-beyond-64-bits"],
)
def test_known_bad_deliveries_are_dead_lettered(delivery):
    assert handle_delivery(ConsumerSpec.from_settings("inventory"), delivery).outcome is Outcome.DEAD_LETTER
