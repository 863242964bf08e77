"""The orders admin: read-only changelists, the saga timeline, stuck sagas and the operator actions."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import transaction
from django.utils import timezone

from apps.messaging.models import OutboxMessage
from apps.orders.models import Order, OrderStatus, SagaHistory, SagaState, SagaStatus, SagaStep
from apps.orders.services.placement import order_place
from apps.orders.services.runtime import saga_apply_event
from apps.orders.tests.factories import OrderFactory, SagaStateFactory

ORDERS_AND_USERS_DB = ["default", "orders"]


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_order_changelist(admin_client):
    order = OrderFactory(user_id=7)

    response = admin_client.get("/admin/orders/order/")

    assert response.status_code == 200
    assert [row.pk for row in response.context["cl"].result_list] == [order.pk]


@pytest.mark.parametrize("term", ["7", "abc", "1.5", "-1", "99999999999999999999999"])
@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_order_search_never_fails(admin_client, term):
    OrderFactory(user_id=7)

    response = admin_client.get("/admin/orders/order/", {"q": term})

    assert response.status_code == 200


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_saga_changelist_filtered_by_status(admin_client):
    completed = SagaStateFactory(status=SagaStatus.COMPLETED, current_step=SagaStep.DONE)
    SagaStateFactory()

    response = admin_client.get("/admin/orders/sagastate/", {"status": "COMPLETED"})

    assert response.status_code == 200
    assert [saga.pk for saga in response.context["cl"].result_list] == [completed.pk]


@pytest.mark.parametrize("term", ["not-a-uuid", "abc", "12", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"])
@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_saga_search_with_a_non_uuid_term_does_not_fail(admin_client, term):
    SagaStateFactory()

    response = admin_client.get("/admin/orders/sagastate/", {"q": term})

    assert response.status_code == 200


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_saga_search_finds_a_saga_by_its_id(admin_client):
    wanted = SagaStateFactory()
    SagaStateFactory()

    response = admin_client.get("/admin/orders/sagastate/", {"q": str(wanted.saga_id)})

    assert response.status_code == 200
    assert [saga.pk for saga in response.context["cl"].result_list] == [wanted.pk]


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_saga_detail_is_read_only(admin_client):
    saga = SagaStateFactory()

    page = admin_client.get(f"/admin/orders/sagastate/{saga.pk}/change/")
    post = admin_client.post(f"/admin/orders/sagastate/{saga.pk}/change/", {"status": "COMPLETED"})

    assert page.status_code == 200
    assert post.status_code == 403
    saga.refresh_from_db()
    assert saga.status == SagaStatus.IN_PROGRESS


# --- operator actions, stuck sagas and the timeline -------------------------------------------

CHANGELIST = "/admin/orders/sagastate/"


def in_state(*events: str) -> SagaState:
    saga = order_place(user_id=7, lines=[(42, 2)], total_override=Decimal("19.98"))
    for event in events:
        with transaction.atomic(using="orders"):
            saga_apply_event(saga_id=saga.saga_id, order_id=saga.order_id, event=event, reason="test")
    OutboxMessage.objects.using("orders").update(dispatched_at=timezone.now())
    return SagaState.objects.get(pk=saga.pk)


def click(client, action: str, saga: SagaState):
    return client.post(CHANGELIST, {"action": action, ACTION_CHECKBOX_NAME: [saga.pk]}, follow=True)


def entries(saga: SagaState) -> list[tuple[str, str]]:
    return list(SagaHistory.objects.filter(saga_id=saga.pk).order_by("id").values_list("event", "actor"))


def outbox_keys(saga: SagaState) -> list[str]:
    rows = OutboxMessage.objects.using("orders").filter(saga_id=saga.saga_id).order_by("id")
    return list(rows.values_list("routing_key", flat=True))


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_retry_current_step_clicked_twice_resends_once(admin_client, admin_user):
    saga = in_state("INVENTORY_RESERVED")

    first = click(admin_client, "retry_current_step", saga)
    second = click(admin_client, "retry_current_step", saga)

    assert (first.status_code, second.status_code) == (200, 200)
    assert "1 saga(s) retried." in first.content.decode()
    assert "left as they were" in second.content.decode()
    assert outbox_keys(saga) == ["inventory.reserve", "payment.process", "payment.process"]
    assert entries(saga)[-1] == ("STEP_RETRIED", admin_user.username)
    assert [event for event, _ in entries(saga)].count("STEP_RETRIED") == 1


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_force_compensation_clicked_twice_compensates_once(admin_client, admin_user):
    saga = in_state("INVENTORY_RESERVED")

    click(admin_client, "force_compensation", saga)
    click(admin_client, "force_compensation", saga)

    saga.refresh_from_db()
    assert (saga.status, saga.current_step) == (SagaStatus.COMPENSATING, SagaStep.REFUNDING_PAYMENT)
    assert outbox_keys(saga) == ["inventory.reserve", "payment.process", "inventory.release", "payment.refund"]
    assert [entry for entry in entries(saga) if entry[0] == "COMPENSATION_FORCED"] == [
        ("COMPENSATION_FORCED", admin_user.username)
    ]


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_mark_resolved_clicked_twice_resolves_a_failed_saga_once(admin_client, admin_user):
    saga = in_state("INVENTORY_RESERVED", "PAYMENT_FAILED", "INVENTORY_RELEASE_FAILED")

    click(admin_client, "mark_resolved", saga)
    click(admin_client, "mark_resolved", saga)

    saga.refresh_from_db()
    assert (saga.status, saga.current_step) == (SagaStatus.RESOLVED, SagaStep.RELEASING_INVENTORY)
    assert Order.objects.get(pk=saga.order_id).status == OrderStatus.FAILED
    assert entries(saga)[-1] == ("RESOLVED_BY_OPERATOR", admin_user.username)
    assert [event for event, _ in entries(saga)].count("RESOLVED_BY_OPERATOR") == 1


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_the_change_page_buttons_post_the_same_actions(admin_client):
    saga = in_state("INVENTORY_RESERVED")

    page = admin_client.get(f"{CHANGELIST}{saga.pk}/change/").content.decode()

    assert 'value="force_compensation"' in page
    assert f'value="{saga.pk}"' in page
    assert f'action="{CHANGELIST}"' in page


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_a_user_who_is_not_staff_cannot_act(client, django_user_model):
    django_user_model.objects.create_user("customer", password="customer-password")
    client.login(username="customer", password="customer-password")
    saga = in_state("INVENTORY_RESERVED")

    response = client.post(CHANGELIST, {"action": "force_compensation", ACTION_CHECKBOX_NAME: [saga.pk]})

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    saga.refresh_from_db()
    assert saga.status == SagaStatus.IN_PROGRESS


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_stuck_sagas_are_flagged_and_filterable(admin_client):
    stuck = in_state("INVENTORY_RESERVED", "PAYMENT_FAILED")
    SagaState.objects.filter(pk=stuck.pk).update(deadline_at=timezone.now() - timedelta(minutes=5))
    in_time = in_state()

    page = admin_client.get(CHANGELIST)
    filtered = admin_client.get(CHANGELIST, {"stuck": "yes"})

    html = page.content.decode()
    assert "1 saga(s) are stuck past their step deadline" in html
    assert html.count(">STUCK</strong>") == 1
    assert [saga.pk for saga in filtered.context["cl"].result_list] == [stuck.pk]
    assert in_time.pk not in [saga.pk for saga in filtered.context["cl"].result_list]


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_the_change_page_shows_the_timeline(admin_client):
    saga = in_state("INVENTORY_RESERVED", "PAYMENT_FAILED", "INVENTORY_RELEASED")

    html = admin_client.get(f"{CHANGELIST}{saga.pk}/change/").content.decode()

    assert 'class="saga-timeline"' in html
    for event in ("ORDER_PLACED", "INVENTORY_RESERVED", "PAYMENT_FAILED", "INVENTORY_RELEASED"):
        assert f"<td>{event}</td>" in html
    assert "COMPENSATING/RELEASING_INVENTORY → COMPENSATED/DONE" in html


def cancelled_after_confirmation() -> SagaState:
    from apps.orders.services.cancellation import order_cancel

    placement = in_state("INVENTORY_RESERVED", "PAYMENT_SUCCEEDED")
    cancellation = order_cancel(order_id=placement.order_id, reason="wrong size", actor="customer")
    OutboxMessage.objects.using("orders").update(dispatched_at=timezone.now())
    return SagaState.objects.get(saga_id=cancellation.saga_id)


def buttons(page) -> set[str]:
    html = page.content.decode()
    return {name for name in ("retry_current_step", "force_compensation", "mark_resolved") if f'value="{name}"' in html}


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_a_cancellation_saga_shows_its_type_timeline_and_only_the_actions_that_apply(admin_client):
    saga = cancelled_after_confirmation()

    page = admin_client.get(f"/admin/orders/sagastate/{saga.pk}/change/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "Cancellation" in html
    assert "CANCEL_REQUESTED" in html
    assert "wrong size" in html
    # Running, with no compensation to force: it can only be retried.
    assert buttons(page) == {"retry_current_step"}
    listed = admin_client.get(CHANGELIST, {"saga_type__exact": "cancellation"})
    assert [row.pk for row in listed.context["cl"].result_list] == [saga.pk]


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_the_placement_page_offers_what_its_position_allows(admin_client):
    running, failed = in_state("INVENTORY_RESERVED"), in_state("INVENTORY_RESERVE_FAILED")

    assert buttons(admin_client.get(f"/admin/orders/sagastate/{running.pk}/change/")) == {
        "retry_current_step",
        "force_compensation",
    }
    # A refused reservation is the saga's answer (out of stock): nothing for a person to resolve.
    assert buttons(admin_client.get(f"/admin/orders/sagastate/{failed.pk}/change/")) == set()


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_operator_actions_work_on_a_cancellation_saga(admin_client, admin_user):
    saga = cancelled_after_confirmation()

    click(admin_client, "retry_current_step", saga)
    assert outbox_keys(saga) == ["payment.refund", "payment.refund"]
    for _ in range(5):
        with transaction.atomic(using="orders"):
            saga_apply_event(saga_id=saga.saga_id, order_id=saga.order_id, event="PAYMENT_REFUND_FAILED")
    saga.refresh_from_db()
    assert (saga.status, saga.current_step) == (SagaStatus.FAILED, SagaStep.REFUNDING_PAYMENT)
    click(admin_client, "mark_resolved", saga)

    saga.refresh_from_db()
    assert saga.status == SagaStatus.RESOLVED
    assert Order.objects.get(pk=saga.order_id).status == OrderStatus.CANCELLED
    assert entries(saga)[-1] == ("RESOLVED_BY_OPERATOR", admin_user.username)


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_the_order_page_links_to_each_of_its_sagas(admin_client):
    saga = cancelled_after_confirmation()

    page = admin_client.get(f"/admin/orders/order/{saga.order_id}/change/")

    html = page.content.decode()
    for each in SagaState.objects.filter(order_id=saga.order_id):
        assert f"/admin/orders/sagastate/{each.pk}/change/" in html
