"""reconcile: a consistent world reports nothing; each deliberate corruption reports exactly its violation."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.utils import timezone

from apps.audit.services import reconcile
from apps.inventory.models import Inventory, InventoryAction, InventoryLog, InventoryOutcome
from apps.inventory.tests.factories import InventoryFactory, InventoryLogFactory
from apps.messaging.models import OutboxMessage
from apps.orders.models import Order, OrderLine, OrderStatus, SagaState, SagaStatus, SagaStep
from apps.orders.tests.factories import OrderFactory, SagaStateFactory
from apps.payments.models import Payment, PaymentStatus
from apps.payments.tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db(databases=["orders", "inventory", "payments"])

PRODUCT = 5001
AGES = {"saga_age": timedelta(seconds=60), "outbox_age": timedelta(seconds=60)}
APPLIED, REJECTED = InventoryOutcome.APPLIED, InventoryOutcome.REJECTED
RESERVE, RELEASE, COMMIT = InventoryAction.RESERVE, InventoryAction.RELEASE, InventoryAction.COMMIT


def saga(status, step, order_status, *, quantity, product_id=PRODUCT, amount="10.00", overridden=True) -> SagaState:
    """An order and its saga; its total was set by staff (the seed's contract) unless not ``overridden``."""
    order = OrderFactory(
        product_id=product_id,
        quantity=quantity,
        total_amount=Decimal(amount),
        price_overridden=overridden,
        status=order_status,
    )
    completed = timezone.now() - timedelta(hours=1) if status == SagaStatus.COMPLETED else None
    return SagaStateFactory(order=order, status=status, current_step=step, completed_at=completed)


def log(order_id, action, quantity, *, outcome=APPLIED, product_id=PRODUCT, unit_price=None) -> InventoryLog:
    return InventoryLogFactory(
        order_id=order_id,
        product_id=product_id,
        action=action,
        outcome=outcome,
        quantity=quantity,
        unit_price=unit_price,
        currency="USD" if unit_price is not None else "",
    )


def stock(**changes) -> None:
    """Move the product's counters by the given amounts, as a buggy handler would have."""
    row = Inventory.objects.get(product_id=PRODUCT)
    for name, delta in changes.items():
        setattr(row, name, getattr(row, name) + delta)
    row.save()


@pytest.fixture
def world():
    """A consistent set of databases: one order in each end state, one in flight."""
    confirmed = saga(SagaStatus.COMPLETED, SagaStep.DONE, OrderStatus.CONFIRMED, quantity=3)
    log(confirmed.order_id, RESERVE, 3)
    log(confirmed.order_id, COMMIT, 3)
    PaymentFactory(order_id=confirmed.order_id, status=PaymentStatus.SUCCESS)

    compensated = saga(SagaStatus.COMPENSATED, SagaStep.DONE, OrderStatus.COMPENSATED, quantity=2)
    log(compensated.order_id, RESERVE, 2)
    log(compensated.order_id, RELEASE, 2)
    PaymentFactory(order_id=compensated.order_id, status=PaymentStatus.FAILED)

    refused = saga(SagaStatus.FAILED, SagaStep.RESERVING_INVENTORY, OrderStatus.FAILED, quantity=1)
    log(refused.order_id, RESERVE, 1, outcome=REJECTED)

    in_flight = saga(SagaStatus.IN_PROGRESS, SagaStep.PROCESSING_PAYMENT, OrderStatus.PENDING, quantity=4)
    log(in_flight.order_id, RESERVE, 4)

    InventoryFactory(product_id=PRODUCT, available_qty=100, reserved_qty=4, sold_qty=3)
    return {"confirmed": confirmed, "compensated": compensated, "refused": refused, "in_flight": in_flight}


def checks() -> list[str]:
    return [violation.check for violation in reconcile(**AGES)]


def test_a_consistent_world_has_no_violation(world):
    assert reconcile(**AGES) == []


def test_the_command_says_so_when_clean(world, capsys):
    call_command("reconcile", "--saga-age", "60", "--outbox-age", "60")

    assert "no violation" in capsys.readouterr().out


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_command_shows_a_bar_on_stderr_and_its_verdict_on_stdout(world):
    out, err = io.StringIO(), FakeTerminal()

    call_command("reconcile", "--saga-age", "60", "--outbox-age", "60", stdout=out, stderr=err)

    assert out.getvalue() == "reconcile: no violation\n"
    assert "reconciling" in err.getvalue()
    assert "11/11" in err.getvalue(), "every table read and every check"


def test_the_command_prints_each_violation_and_exits_non_zero(world, capsys):
    Order.objects.filter(pk=world["confirmed"].order_id).update(status=OrderStatus.FAILED)
    Payment.objects.filter(order_id=world["confirmed"].order_id).delete()

    with pytest.raises(CommandError) as raised:
        call_command("reconcile")

    assert raised.value.returncode == 1
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["order_saga_mismatch", "confirmed_without_payment"]


def test_an_order_charged_at_its_catalog_prices_is_consistent(world):
    order = saga(SagaStatus.IN_PROGRESS, SagaStep.PROCESSING_PAYMENT, OrderStatus.PENDING, quantity=4, amount="10.00")
    Order.objects.filter(pk=order.order_id).update(price_overridden=False)
    log(order.order_id, RESERVE, 4, unit_price=Decimal("2.50"))
    stock(reserved_qty=4, available_qty=-4)

    assert checks() == []


def test_an_order_whose_total_is_not_its_catalog_total(world):
    order = saga(SagaStatus.IN_PROGRESS, SagaStep.PROCESSING_PAYMENT, OrderStatus.PENDING, quantity=4, overridden=False)
    log(order.order_id, RESERVE, 4, unit_price=Decimal("0.01"))
    stock(reserved_qty=4, available_qty=-4)

    assert checks() == ["price_mismatch"]


def test_an_old_active_saga(world):
    SagaState.objects.filter(pk=world["in_flight"].pk).update(created_at=timezone.now() - timedelta(hours=1))

    assert checks() == ["saga_not_terminal"]


def test_an_order_whose_status_disagrees_with_its_saga(world):
    Order.objects.filter(pk=world["confirmed"].order_id).update(status=OrderStatus.FAILED)

    assert checks() == ["order_saga_mismatch"]


def test_an_order_without_a_saga():
    OrderFactory(status=OrderStatus.PENDING)

    assert checks() == ["order_without_saga"]


def test_a_saga_without_an_order(world):
    SagaState.objects.create(order_id=99_999, status=SagaStatus.COMPENSATED, current_step=SagaStep.DONE)

    assert checks() == ["saga_without_order"]


def test_a_confirmed_order_without_its_payment(world):
    Payment.objects.filter(order_id=world["confirmed"].order_id).delete()

    assert checks() == ["confirmed_without_payment"]


def test_money_kept_for_a_compensated_order(world):
    Payment.objects.filter(order_id=world["compensated"].order_id).update(status=PaymentStatus.SUCCESS)

    assert checks() == ["charged_without_confirmation"]


def test_a_payment_for_an_order_refused_at_reservation(world):
    PaymentFactory(order_id=world["refused"].order_id, status=PaymentStatus.FAILED)

    assert checks() == ["payment_for_reservation_failure"]


def test_a_payment_for_an_unknown_order(world):
    PaymentFactory(order_id=99_999, status=PaymentStatus.SUCCESS)

    assert checks() == ["payment_without_order"]


def test_a_payment_of_the_wrong_amount(world):
    Payment.objects.filter(order_id=world["confirmed"].order_id).update(amount=Decimal("10.01"))

    assert checks() == ["payment_amount_mismatch"]


def test_a_reservation_of_another_quantity_than_ordered(world):
    OrderLine.objects.filter(order_id=world["in_flight"].order_id).update(quantity=5)

    assert checks() == ["reservation_mismatch"]


def test_a_reservation_missing_a_line_of_the_order(world):
    OrderLine.objects.create(order_id=world["in_flight"].order_id, product_id=PRODUCT + 1, quantity=1)

    assert checks() == ["reservation_mismatch"]


def test_a_release_of_stock_never_reserved(world):
    log(world["refused"].order_id, RELEASE, 1)
    stock(available_qty=1, reserved_qty=-1)

    assert checks() == ["release_without_reservation"]


def test_a_sale_of_stock_never_reserved(world):
    extra = saga(SagaStatus.COMPLETED, SagaStep.DONE, OrderStatus.CONFIRMED, quantity=1)
    PaymentFactory(order_id=extra.order_id, status=PaymentStatus.SUCCESS)
    log(extra.order_id, COMMIT, 1)
    stock(reserved_qty=-1, sold_qty=1)

    assert checks() == ["commit_without_reservation"]


def test_an_order_both_released_and_sold(world):
    log(world["confirmed"].order_id, RELEASE, 3)
    stock(available_qty=3, reserved_qty=-3)

    assert checks() == ["released_and_sold"]


def test_a_confirmed_order_whose_units_were_never_sold(world):
    InventoryLog.objects.filter(order_id=world["confirmed"].order_id, action=COMMIT).delete()
    stock(reserved_qty=3, sold_qty=-3)

    assert checks() == ["units_not_sold"]


def test_units_sold_for_an_order_not_confirmed(world):
    log(world["in_flight"].order_id, COMMIT, 4)
    stock(reserved_qty=-4, sold_qty=4)

    assert checks() == ["sold_without_confirmation"]


def test_stock_held_by_an_order_that_did_not_complete(world):
    InventoryLog.objects.filter(order_id=world["compensated"].order_id, action=RELEASE).delete()
    stock(available_qty=-2, reserved_qty=2)

    assert checks() == ["stock_held"]


def test_a_reserved_counter_the_log_does_not_explain(world):
    stock(reserved_qty=1)

    assert checks() == ["reserved_counter_mismatch"]


def test_a_sold_counter_the_log_does_not_explain(world):
    stock(sold_qty=1)

    assert checks() == ["sold_counter_mismatch"]


def test_stock_moved_for_an_unknown_order(world):
    log(99_999, RELEASE, 0)

    assert checks() == ["stock_for_unknown_order"]


def test_stock_moved_for_a_product_without_a_row(world):
    unknown = saga(
        SagaStatus.IN_PROGRESS, SagaStep.PROCESSING_PAYMENT, OrderStatus.PENDING, quantity=1, product_id=7777
    )
    log(unknown.order_id, RESERVE, 1, product_id=7777)

    assert checks() == ["stock_for_unknown_product"]


def test_a_negative_counter(world):
    # The CHECK constraints refuse it; switch them off for this connection, as a bad restore would.
    connection = connections["inventory"]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA ignore_check_constraints = 1")
        else:
            cursor.execute("SET SESSION check_constraint_checks = 0")
        try:
            cursor.execute("UPDATE inventories SET available_qty = -1 WHERE product_id = %s", [PRODUCT])
        finally:
            if connection.vendor == "sqlite":
                cursor.execute("PRAGMA ignore_check_constraints = 0")
            else:
                cursor.execute("SET SESSION check_constraint_checks = 1")

    assert checks() == ["negative_quantity"]


def test_an_outbox_row_left_unpublished(world):
    row = OutboxMessage.objects.using("payments").create(
        exchange="saga.events", routing_key="payment.processed", message_type="PaymentProcessed", payload={}
    )
    OutboxMessage.objects.using("payments").filter(pk=row.pk).update(created_at=timezone.now() - timedelta(hours=1))
    OutboxMessage.objects.using("orders").create(
        exchange="saga.commands", routing_key="inventory.reserve", message_type="ReserveInventory", payload={}
    )

    violations = reconcile(**AGES)

    assert [violation.check for violation in violations] == ["outbox_lagging"]
    assert violations[0].detail.startswith("payments: 1 outbox row(s)")


RESTOCK = InventoryAction.RESTOCK


def cancelled_after_confirmation(*, restocked: bool = True, refunded: bool = True) -> SagaState:
    """A confirmed order (3 units sold, charged) that a cancellation saga refunded and restocked."""
    placement = saga(SagaStatus.COMPLETED, SagaStep.DONE, OrderStatus.CANCELLED, quantity=3)
    log(placement.order_id, RESERVE, 3)
    log(placement.order_id, COMMIT, 3)
    if restocked:
        log(placement.order_id, RESTOCK, 3)
    PaymentFactory(order_id=placement.order_id, status=PaymentStatus.REFUNDED if refunded else PaymentStatus.SUCCESS)
    return SagaStateFactory(
        order=Order.objects.get(pk=placement.order_id),
        saga_type="cancellation",
        status=SagaStatus.COMPLETED,
        current_step=SagaStep.DONE,
        completed_at=timezone.now(),
    )


def test_an_order_cancelled_after_its_confirmation_is_consistent(world):
    cancelled_after_confirmation()

    assert reconcile(**AGES) == []


def test_an_order_cancelled_while_pending_is_consistent(world):
    pending = saga(SagaStatus.COMPENSATED, SagaStep.DONE, OrderStatus.CANCELLED, quantity=2)
    SagaState.objects.filter(pk=pending.pk).update(cancelling=True)
    log(pending.order_id, RESERVE, 2)
    log(pending.order_id, RELEASE, 2)

    assert reconcile(**AGES) == []


def test_a_cancelled_order_still_charged_or_still_sold_is_reported(world):
    cancelled_after_confirmation(refunded=False, restocked=False)
    stock(sold_qty=3)

    assert sorted(checks()) == ["charged_without_confirmation", "stock_held"]


def test_a_cancelled_order_whose_saga_says_otherwise_is_reported(world):
    cancellation = cancelled_after_confirmation()
    Order.objects.filter(pk=cancellation.order_id).update(status=OrderStatus.CONFIRMED)

    assert checks() == ["order_saga_mismatch"]


def test_two_active_sagas_for_one_order_are_reported(world):
    SagaStateFactory(
        order=Order.objects.get(pk=world["in_flight"].order_id),
        saga_type="cancellation",
        status=SagaStatus.IN_PROGRESS,
        current_step=SagaStep.REFUNDING_PAYMENT,
    )

    assert "several_active_sagas" in checks()
