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


CONFIRMED_ACTIONS = ("force_compensation", "mark_resolved")


def click(client, action: str, saga: SagaState, note: str = "checked with the gateway"):
    """Post the action for ``saga``; one that asks for confirmation is confirmed with ``note``."""
    data = {"action": action, ACTION_CHECKBOX_NAME: [saga.pk]}
    if action in CONFIRMED_ACTIONS:
        data |= {"post": "yes", "note": note}
    return client.post(CHANGELIST, data, follow=True)


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
    filtered = admin_client.get(CHANGELIST, {"needs_person": "stuck"})

    html = page.content.decode()
    assert "1 saga(s) need a person" in html
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
        assert f"/admin/orders/sagastate/{each.saga_id}/change/" in html


# --- triage: who needs a person, and what the others' outcome was ---------------------------


def listed(client, **filters) -> list[int]:
    return [row.pk for row in client.get(CHANGELIST, filters).context["cl"].result_list]


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_the_needs_a_person_filter_and_badge_show_a_failed_compensation_not_an_out_of_stock_order(admin_client):
    stopped = in_state("INVENTORY_RESERVED", "PAYMENT_FAILED", "INVENTORY_RELEASE_FAILED")
    out_of_stock = in_state("INVENTORY_RESERVE_FAILED")

    html = admin_client.get(CHANGELIST, {"needs_person": "yes"}).content.decode()

    assert listed(admin_client, needs_person="yes") == [stopped.pk]
    assert listed(admin_client, needs_person="failed") == [stopped.pk]
    assert listed(admin_client, outcome="out_of_stock") == [out_of_stock.pk]
    assert html.count("saga-badge needs-person") == 1
    assert ">FAILED</strong>" in html
    everything = admin_client.get(CHANGELIST).content.decode()
    assert "Out of stock (reservation refused)</span>" in everything
    assert "1 saga(s) need a person" in everything


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_an_unknown_triage_value_lists_everything(admin_client):
    saga = in_state()

    assert listed(admin_client, outcome="no-such-outcome") == [saga.pk]


# --- confirmation with a note ----------------------------------------------------------------


def ask(client, action: str, *sagas: SagaState, **extra):
    return client.post(CHANGELIST, {"action": action, ACTION_CHECKBOX_NAME: [saga.pk for saga in sagas], **extra})


@pytest.mark.parametrize(
    ("action", "events"),
    [("force_compensation", ("INVENTORY_RESERVED",)), ("mark_resolved", ("INVENTORY_RESERVE_FAILED",))],
)
@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_an_action_that_does_not_apply_is_refused_with_a_sentence_and_changes_nothing(admin_client, action, events):
    completed = in_state("INVENTORY_RESERVED", "PAYMENT_SUCCEEDED")
    other = in_state(*events) if action == "mark_resolved" else completed

    response = admin_client.post(
        CHANGELIST,
        {"action": action, ACTION_CHECKBOX_NAME: [completed.pk, other.pk], "post": "yes", "note": "x"},
        follow=True,
    )

    html = response.content.decode()
    assert "was not applied to" in html
    assert str(completed.saga_id) in html
    assert "It applies only to" in html
    assert SagaState.objects.get(pk=completed.pk).status == SagaStatus.COMPLETED
    assert SagaState.objects.get(pk=other.pk).status == other.status


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_retry_refuses_a_saga_that_ended_and_retries_the_others(admin_client):
    running, completed = in_state("INVENTORY_RESERVED"), in_state("INVENTORY_RESERVED", "PAYMENT_SUCCEEDED")

    html = click(admin_client, "retry_current_step", running).content.decode()
    refused = admin_client.post(
        CHANGELIST, {"action": "retry_current_step", ACTION_CHECKBOX_NAME: [completed.pk]}, follow=True
    ).content.decode()

    assert "1 saga(s) retried." in html
    assert f"Retry current step was not applied to 1 saga(s): {completed.saga_id} (COMPLETED/DONE)" in refused


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_force_compensation_asks_for_a_note_first_and_changes_nothing_until_confirmed(admin_client):
    saga = in_state("INVENTORY_RESERVED")

    page = ask(admin_client, "force_compensation", saga)

    assert page.status_code == 200
    assert page.templates[0].name == "admin/orders/sagastate/operator_action_confirmation.html"
    html = page.content.decode()
    assert 'name="note"' in html
    assert 'name="post" value="yes"' in html
    assert str(saga.saga_id) in html
    assert SagaState.objects.get(pk=saga.pk).status == SagaStatus.IN_PROGRESS


@pytest.mark.parametrize("note", ["", "   "])
@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_an_empty_note_is_refused(admin_client, note):
    saga = in_state("INVENTORY_RESERVED")

    page = ask(admin_client, "force_compensation", saga, post="yes", note=note)

    assert page.status_code == 200
    assert page.context["form"].errors == {"note": ["This field is required."]}
    assert SagaState.objects.get(pk=saga.pk).status == SagaStatus.IN_PROGRESS


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_the_confirmation_lists_what_it_leaves_out(admin_client):
    running, completed = in_state("INVENTORY_RESERVED"), in_state("INVENTORY_RESERVED", "PAYMENT_SUCCEEDED")

    page = ask(admin_client, "force_compensation", running, completed)

    assert [saga.pk for saga in page.context["sagas"]] == [running.pk]
    assert [saga.pk for saga in page.context["refused"]] == [completed.pk]


@pytest.mark.parametrize(
    ("action", "events", "status"),
    [
        ("force_compensation", ("INVENTORY_RESERVED",), SagaStatus.COMPENSATING),
        ("mark_resolved", ("INVENTORY_RESERVED", "PAYMENT_FAILED", "INVENTORY_RELEASE_FAILED"), SagaStatus.RESOLVED),
    ],
)
@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_from_the_saga_page_the_note_and_actor_land_in_the_timeline(admin_client, admin_user, action, events, status):
    saga = in_state(*events)

    response = ask(
        admin_client, action, saga, post="yes", note="Refunded by phone, ticket 4711", _from_saga=str(saga.saga_id)
    )

    assert response.status_code == 302
    assert response["Location"] == f"{CHANGELIST}{saga.saga_id}/change/"
    assert SagaState.objects.get(pk=saga.pk).status == status
    last = SagaHistory.objects.filter(saga_id=saga.pk).order_by("id").last()
    assert (last.actor, last.note) == (admin_user.username, "Refunded by phone, ticket 4711")
    html = admin_client.get(response["Location"]).content.decode()
    assert "<th>note</th>" in html
    assert f"<td>{admin_user.username}</td><td>Refunded by phone, ticket 4711</td>" in html


# --- a saga by its saga id, and the links between order, saga, payment and stock ------------


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_a_saga_page_opens_by_its_saga_id(admin_client):
    saga = in_state("INVENTORY_RESERVED")

    by_saga_id = admin_client.get(f"{CHANGELIST}{saga.saga_id}/change/")
    by_hex = admin_client.get(f"{CHANGELIST}{saga.saga_id.hex}/change/")
    by_row_id = admin_client.get(f"{CHANGELIST}{saga.pk}/change/")
    unknown = admin_client.get(f"{CHANGELIST}00000000-0000-0000-0000-000000000000/change/")

    assert by_saga_id.status_code == by_hex.status_code == by_row_id.status_code == 200
    assert by_saga_id.context["original"].pk == saga.pk
    assert unknown.status_code == 302


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_the_saga_list_links_each_row_by_its_saga_id(admin_client):
    saga = in_state()

    html = admin_client.get(CHANGELIST).content.decode()

    assert f'href="{CHANGELIST}{saga.saga_id}/change/"' in html


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_the_saga_page_links_its_order_payment_and_inventory_log(admin_client):
    saga = in_state("INVENTORY_RESERVED")

    html = admin_client.get(f"{CHANGELIST}{saga.saga_id}/change/").content.decode()

    assert f'href="/admin/orders/order/{saga.order_id}/change/"' in html
    assert f'href="/admin/payments/payment/?order_id={saga.order_id}"' in html
    assert f'href="/admin/inventory/inventorylog/?order_id={saga.order_id}"' in html
    assert f'href="/admin/orders/sagastate/?order_id={saga.order_id}"' in html


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_the_order_page_links_its_payment_and_inventory_log(admin_client):
    saga = in_state()

    html = admin_client.get(f"/admin/orders/order/{saga.order_id}/change/").content.decode()

    assert f'href="/admin/payments/payment/?order_id={saga.order_id}"' in html
    assert f'href="/admin/inventory/inventorylog/?order_id={saga.order_id}"' in html


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_the_saga_list_filters_by_order_id_from_a_link(admin_client):
    saga, other = in_state(), in_state()

    assert listed(admin_client, order_id=saga.order_id) == [saga.pk]
    assert other.pk not in listed(admin_client, order_id=saga.order_id)
