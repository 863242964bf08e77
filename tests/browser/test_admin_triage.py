"""A support person triages sagas in the admin: what needs a person, acting with a note, following the links."""

import re

import pytest
from playwright.sync_api import expect

from apps.inventory.tests.factories import InventoryLogFactory
from apps.orders.models import SagaHistory, SagaState, SagaStatus
from apps.orders.tests.test_admin import in_state
from apps.payments.tests.factories import PaymentFactory
from tests.browser.conftest import ALL_DATABASES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases=ALL_DATABASES)]

SAGAS = "/admin/orders/sagastate/"


def row_of(page, saga: SagaState):
    return page.locator("#result_list tbody tr").filter(has_text=str(saga.saga_id))


def test_a_saga_that_needs_a_person_shows_under_the_filter_with_its_badge_and_an_outcome_does_not(admin_page):
    stopped = in_state("INVENTORY_RESERVED", "PAYMENT_FAILED", "INVENTORY_RELEASE_FAILED")
    out_of_stock = in_state("INVENTORY_RESERVE_FAILED")
    admin_page.goto(SAGAS)
    expect(row_of(admin_page, out_of_stock).locator(".saga-badge.outcome")).to_have_text(
        "Out of stock (reservation refused)"
    )

    admin_page.get_by_role("link", name="Needs a person (any reason)").click()

    expect(admin_page).to_have_url(re.compile(r"needs_person=yes"))
    expect(row_of(admin_page, stopped).locator(".saga-badge.needs-person")).to_have_text("FAILED")
    expect(row_of(admin_page, out_of_stock)).to_have_count(0)
    expect(admin_page.locator("#result_list tbody tr")).to_have_count(1)


@pytest.mark.parametrize(
    ("events", "button", "event", "status"),
    [
        (("INVENTORY_RESERVED",), "Force compensation", "COMPENSATION_FORCED", SagaStatus.COMPENSATING),
        (
            ("INVENTORY_RESERVED", "PAYMENT_FAILED", "INVENTORY_RELEASE_FAILED"),
            "Mark resolved",
            "RESOLVED_BY_OPERATOR",
            SagaStatus.RESOLVED,
        ),
    ],
)
def test_the_action_asks_refuses_an_empty_note_then_puts_the_note_in_the_timeline(
    admin_page, support_user, events, button, event, status
):
    saga = in_state(*events)
    before = saga.status
    admin_page.goto(f"{SAGAS}{saga.saga_id}/change/")

    admin_page.get_by_role("button", name=button).click()
    expect(admin_page.locator("#content")).to_contain_text(f"{button} applies to")
    admin_page.get_by_label("Note:").fill("   ")
    admin_page.get_by_role("button", name=f"Yes, {button.lower()}").click()

    expect(admin_page.locator(".field-note .errorlist")).to_have_text("This field is required.")
    assert SagaState.objects.get(pk=saga.pk).status == before

    admin_page.get_by_label("Note:").fill("Checked with the gateway, ticket 4711")
    admin_page.get_by_role("button", name=f"Yes, {button.lower()}").click()

    expect(admin_page).to_have_url(re.compile(rf"{SAGAS}{saga.saga_id}/change/$"))
    entry = admin_page.locator(".saga-timeline tbody tr").filter(has_text=event)
    expect(entry).to_contain_text(support_user.username)
    expect(entry).to_contain_text("Checked with the gateway, ticket 4711")
    assert SagaState.objects.get(pk=saga.pk).status == status
    assert SagaHistory.objects.filter(saga_id=saga.pk, event=event, actor=support_user.username).count() == 1


def test_from_the_order_to_its_saga_to_its_payment_and_back(admin_page):
    saga = in_state("INVENTORY_RESERVED", "PAYMENT_SUCCEEDED")
    PaymentFactory(order_id=saga.order_id, saga_id=saga.saga_id)
    InventoryLogFactory(order_id=saga.order_id, product_id=42, quantity=2)
    order_url = f"/admin/orders/order/{saga.order_id}/change/"
    saga_url = f"{SAGAS}{saga.saga_id}/change/"
    admin_page.goto(order_url)

    admin_page.get_by_role("link", name=re.compile(str(saga.saga_id))).click()
    expect(admin_page).to_have_url(re.compile(f"{saga_url}$"))
    admin_page.get_by_role("link", name="payment", exact=True).click()
    expect(admin_page).to_have_url(re.compile(rf"/admin/payments/payment/\?order_id={saga.order_id}$"))
    expect(admin_page.locator("#result_list tbody tr")).to_have_count(1)
    admin_page.get_by_role("link", name=f"saga {saga.saga_id}").click()
    expect(admin_page).to_have_url(re.compile(f"{saga_url}$"))

    admin_page.get_by_role("link", name="inventory log entries").click()
    expect(admin_page.locator("#result_list tbody tr")).to_have_count(1)
    admin_page.get_by_role("link", name=f"order {saga.order_id}").click()
    expect(admin_page).to_have_url(re.compile(f"{order_url}$"))

    admin_page.goto(saga_url)
    admin_page.get_by_role("link", name=f"order {saga.order_id}").click()
    expect(admin_page).to_have_url(re.compile(f"{order_url}$"))
