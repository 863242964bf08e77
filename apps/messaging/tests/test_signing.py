"""Signed origin: a consumer acts only on what its routing key's app signed, with that route's key."""

import dataclasses
import json
import uuid

import pytest
from django.core.checks import run_checks
from django.db import transaction
from prometheus_client import REGISTRY

from apps.common.tests.tracing import CALLER_TRACEPARENT
from apps.messaging.consumer import ConsumerSpec, Delivery, Outcome, handle_delivery
from apps.messaging.contracts import CONTRACTS, ProcessPayment, ReserveInventory, StockLine
from apps.messaging.models import InboxMessage, OutboxMessage
from apps.messaging.outbox import outbox_enqueue
from apps.messaging.relay import Claimed, outgoing
from apps.messaging.signing import (
    PRODUCER_HEADER,
    SIGNATURE_HEADER,
    SigningKeyMissing,
    Untrusted,
    message_sign,
    message_verify,
)
from apps.messaging.tests.signed import signed_delivery
from config.settings.base import signing_keys

PAYMENTS_DB = ["payments"]
ROUTE_KEY = "a" * 32
BODY = {"saga_id": str(uuid.uuid4()), "order_id": 7, "amount": 999.0}


def untrusted(queue: str, kind: str) -> float:
    return REGISTRY.get_sample_value("consumer_untrusted_messages_total", {"queue": queue, "kind": kind}) or 0.0


def payment_delivery(body=BODY, **headers) -> Delivery:
    return signed_delivery(routing_key="payment.process", body=body, headers=headers)


def verify(delivery: Delivery) -> bool:
    return message_verify(
        routing_key=delivery.routing_key,
        message_id=uuid.UUID(delivery.message_id),
        body=json.loads(delivery.body),
        headers=delivery.headers,
    )


def test_what_the_producer_signed_verifies():
    assert verify(payment_delivery()) is True


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        (lambda d: dataclasses.replace(d, headers={}), "wrong_producer"),
        (lambda d: dataclasses.replace(d, headers={**d.headers, SIGNATURE_HEADER: None}), "unsigned"),
        (lambda d: dataclasses.replace(d, headers={**d.headers, PRODUCER_HEADER: "inventory"}), "wrong_producer"),
        (lambda d: dataclasses.replace(d, body=json.dumps({**BODY, "amount": 0.01}).encode()), "bad_signature"),
        # A replay under a fresh id: the inbox would not know it, the signature does.
        (lambda d: dataclasses.replace(d, message_id=str(uuid.uuid4())), "bad_signature"),
        (lambda d: dataclasses.replace(d, routing_key="payment.refund"), "bad_signature"),
        (lambda d: dataclasses.replace(d, headers={**d.headers, SIGNATURE_HEADER: "old:" + "0" * 64}), "unknown_key"),
    ],
    ids=["no-headers", "no-signature", "posing-as-inventory", "amount-changed", "fresh-id", "other-key", "unknown-key"],
)
def test_a_message_changed_or_unsigned_is_untrusted(change, kind):
    with pytest.raises(Untrusted) as refused:
        verify(change(payment_delivery()))
    assert refused.value.kind == kind


def test_a_message_signed_with_another_routes_key_is_untrusted(settings):
    """Inventory holds the key of its replies to orders: with it, it still cannot pass for orders to payments."""
    inventory_key = settings.MESSAGE_SIGNING_KEYS[("inventory", "orders")]
    settings.MESSAGE_SIGNING_KEYS = {**settings.MESSAGE_SIGNING_KEYS, ("orders", "payments"): inventory_key}
    forged = payment_delivery()
    settings.MESSAGE_SIGNING_KEYS = signing_keys(derive_from=settings.SECRET_KEY)

    with pytest.raises(Untrusted) as refused:
        verify(forged)
    assert refused.value.kind == "bad_signature"


def test_during_a_rotation_the_new_key_signs_and_the_old_one_still_verifies(settings, monkeypatch):
    monkeypatch.setenv("SIGNING_KEYS_ORDERS_PAYMENTS", f"k1:{ROUTE_KEY}")
    settings.MESSAGE_SIGNING_KEYS = signing_keys(derive_from=None)
    signed_before = payment_delivery()
    monkeypatch.setenv("SIGNING_KEYS_ORDERS_PAYMENTS", f"k2:{'b' * 32},k1:{ROUTE_KEY}")
    settings.MESSAGE_SIGNING_KEYS = signing_keys(derive_from=None)

    assert verify(signed_before) is True
    assert payment_delivery().headers[SIGNATURE_HEADER].startswith("k2:")
    monkeypatch.setenv("SIGNING_KEYS_ORDERS_PAYMENTS", f"k2:{'b' * 32}")
    settings.MESSAGE_SIGNING_KEYS = signing_keys(derive_from=None)
    with pytest.raises(Untrusted, match="key 'k1'"):
        verify(signed_before)


def test_production_derives_no_key_and_a_process_holds_only_the_routes_it_is_given(monkeypatch):
    monkeypatch.setenv("SIGNING_KEYS_INVENTORY_ORDERS", f"k1:{ROUTE_KEY}")

    assert set(signing_keys(derive_from=None)) == {("inventory", "orders")}
    assert set(signing_keys(derive_from="dev")) == set(CONTRACT_ROUTES)


CONTRACT_ROUTES = {(contract.producer, contract.consumer) for contract in CONTRACTS.values()}


@pytest.mark.parametrize("value", ["k1", f":{ROUTE_KEY}", "k1:short"])
def test_a_malformed_key_setting_fails_at_start(monkeypatch, value):
    monkeypatch.setenv("SIGNING_KEYS_ORDERS_INVENTORY", value)
    with pytest.raises(Exception, match="at least 32 characters"):
        signing_keys(derive_from=None)


def test_a_process_without_the_routes_key_cannot_sign(settings):
    settings.MESSAGE_SIGNING_KEYS = {}
    with pytest.raises(SigningKeyMissing, match="SIGNING_KEYS_ORDERS_PAYMENTS"):
        message_sign(contract=ProcessPayment, message_id=uuid.uuid4(), body=BODY)


def test_a_process_without_the_routes_key_trusts_nothing_on_it(settings):
    delivery = payment_delivery()
    settings.MESSAGE_SIGNING_KEYS = {}
    with pytest.raises(Untrusted) as refused:
        verify(delivery)
    assert refused.value.kind == "no_key"


@pytest.mark.django_db(databases=PAYMENTS_DB, transaction=True)
def test_an_untrusted_delivery_is_dead_lettered_counted_and_has_no_effect():
    before = untrusted("payment.commands", "bad_signature")
    delivery = payment_delivery()
    forged = dataclasses.replace(delivery, body=json.dumps({**BODY, "amount": 0.01}).encode())

    result = handle_delivery(ConsumerSpec.from_settings("payments"), forged)

    assert result.outcome is Outcome.DEAD_LETTER
    assert result.reason.startswith("untrusted: the signature of orders's key 'derived' does not match")
    assert untrusted("payment.commands", "bad_signature") == before + 1
    assert not InboxMessage.objects.using("payments").exists()
    assert not OutboxMessage.objects.using("payments").exists()


@pytest.mark.django_db(databases=PAYMENTS_DB, transaction=True)
def test_a_body_that_is_malformed_is_reported_as_malformed_before_its_origin():
    delivery = dataclasses.replace(payment_delivery(), body=b'{"saga_id": 1}')
    result = handle_delivery(ConsumerSpec.from_settings("payments"), delivery)
    assert result.reason.startswith("malformed message:")


@pytest.mark.django_db(databases=PAYMENTS_DB, transaction=True)
def test_accepting_unsigned_messages_lets_only_unsigned_ones_through_and_counts_them(settings):
    settings.MESSAGING_ACCEPT_UNSIGNED = True
    before = untrusted("payment.commands", "accepted_unsigned")
    unsigned = dataclasses.replace(payment_delivery(), headers={})
    badly_signed = dataclasses.replace(payment_delivery(), message_id=str(uuid.uuid4()))
    spec = ConsumerSpec.from_settings("payments")

    assert handle_delivery(spec, unsigned).outcome is Outcome.OK
    assert handle_delivery(spec, badly_signed).outcome is Outcome.DEAD_LETTER
    assert untrusted("payment.commands", "accepted_unsigned") == before + 1
    assert any(message.id == "messaging.W001" for message in run_checks(include_deployment_checks=True))


@pytest.mark.django_db(databases=["orders"])
def test_the_outbox_row_carries_its_producers_signature_and_the_relay_sends_it():
    message = ReserveInventory(saga_id=uuid.uuid4(), order_id=3, lines=(StockLine(product_id=1, quantity=2),))
    with transaction.atomic(using="orders"):
        message_id = outbox_enqueue(using="orders", message=message)
    row = OutboxMessage.objects.using("orders").get(message_id=message_id)

    sent = outgoing(
        Claimed(
            pk=row.pk,
            message_id=str(row.message_id),
            exchange=row.exchange,
            routing_key=row.routing_key,
            message_type=row.message_type,
            body=json.dumps(row.payload),
            traceparent=CALLER_TRACEPARENT,
            saga_id=row.saga_id,
            publish_attempts=0,
            signature=row.signature,
        )
    )

    assert sent.headers[PRODUCER_HEADER] == "orders"
    assert sent.headers[SIGNATURE_HEADER] == row.signature
    delivery = Delivery(body=sent.body, routing_key=sent.routing_key, message_id=sent.message_id, headers=sent.headers)
    assert verify(delivery) is True
    # The trace headers are not signed: a relay or a redrive may set them, and a wrong one misplaces only a trace.
    assert sent.headers["traceparent"] == CALLER_TRACEPARENT
    retraced = {**sent.headers, "traceparent": f"00-{'1' * 32}-{'2' * 16}-01", "trace_id": "1" * 32}
    assert verify(dataclasses.replace(delivery, headers=retraced)) is True


def test_the_signature_covers_the_meaning_of_the_body_not_its_bytes():
    """MySQL 8 stores JSON in its own order and spacing: the same values still verify."""
    delivery = payment_delivery(body=BODY)
    rewritten = json.dumps(dict(reversed(list(json.loads(delivery.body).items()))), indent=2).encode()
    assert verify(dataclasses.replace(delivery, body=rewritten)) is True
