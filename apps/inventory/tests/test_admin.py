"""The inventory admin: stock and catalog edits carry the version the operator saw."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import models

from apps.inventory.models import Inventory
from apps.inventory.tests.factories import InventoryFactory, InventoryLogFactory

INVENTORY_AND_USERS_DB = ["default", "inventory"]


def change_url(inventory: Inventory) -> str:
    return f"/admin/inventory/inventory/{inventory.pk}/change/"


def stock_of(inventory: Inventory) -> tuple[int, int]:
    inventory.refresh_from_db()
    return inventory.available_qty, inventory.version


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_inventory_changelist(admin_client):
    inventory = InventoryFactory()

    response = admin_client.get("/admin/inventory/inventory/")

    assert response.status_code == 200
    assert [row.pk for row in response.context["cl"].result_list] == [inventory.pk]


@pytest.mark.parametrize("term", ["42", "abc", "-1", "99999999999999999999999"])
@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_inventory_search_never_fails(admin_client, term):
    InventoryFactory(product_id=42)

    response = admin_client.get("/admin/inventory/inventory/", {"q": term})

    assert response.status_code == 200


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_inventory_log_changelist(admin_client):
    log = InventoryLogFactory()

    response = admin_client.get("/admin/inventory/inventorylog/", {"action": "RESERVE", "q": str(log.order_id)})

    assert response.status_code == 200
    assert [row.pk for row in response.context["cl"].result_list] == [log.pk]


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_inventory_log_entries_link_to_their_order_and_its_sagas(admin_client):
    log = InventoryLogFactory(order_id=17)
    InventoryLogFactory(order_id=18)

    listed = admin_client.get("/admin/inventory/inventorylog/", {"order_id": 17})
    page = admin_client.get(f"/admin/inventory/inventorylog/{log.pk}/change/").content.decode()

    assert [row.pk for row in listed.context["cl"].result_list] == [log.pk]
    for html in (listed.content.decode(), page):
        assert 'href="/admin/orders/order/17/change/"' in html
        assert 'href="/admin/orders/sagastate/?order_id=17"' in html


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_inventory_change_page_carries_the_version(admin_client):
    inventory = InventoryFactory(version=7)

    response = admin_client.get(change_url(inventory))

    assert response.status_code == 200
    assert response.context["adminform"].form["seen_version"].value() == 7


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_change_with_the_current_version_sets_the_stock(admin_client):
    inventory = InventoryFactory(available_qty=10, version=3)

    response = admin_client.post(change_url(inventory), {"available_qty": 25, "seen_version": 3, "_save": "Save"})

    assert response.status_code == 302
    assert stock_of(inventory) == (25, 4)


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_change_with_a_stale_version_changes_nothing(admin_client):
    inventory = InventoryFactory(available_qty=10, version=3)
    Inventory.objects.filter(pk=inventory.pk).update(available_qty=8, version=4)

    response = admin_client.post(change_url(inventory), {"available_qty": 25, "seen_version": 3, "_save": "Save"})

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors()
    assert stock_of(inventory) == (8, 4)


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_change_cannot_move_a_product_to_another_id(admin_client):
    inventory = InventoryFactory(product_id=42, version=1)

    admin_client.post(change_url(inventory), {"product_id": 99, "available_qty": 5, "seen_version": 1, "_save": "Save"})

    inventory.refresh_from_db()
    assert (inventory.product_id, inventory.available_qty) == (42, 5)


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_add_inventory_from_the_admin(admin_client):
    response = admin_client.post("/admin/inventory/inventory/add/", {"product_id": 42, "available_qty": 5})

    assert response.status_code == 302
    stored = Inventory.objects.get(product_id=42)
    assert (stored.available_qty, stored.reserved_qty, stored.version) == (5, 0, 1)


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_negative_stock_is_refused_by_the_admin_form(admin_client):
    inventory = InventoryFactory(available_qty=10, version=1)

    response = admin_client.post(change_url(inventory), {"available_qty": -1, "seen_version": 1, "_save": "Save"})

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "Available stock cannot be negative: enter 0 or more units."
    ]
    assert "inventory_available_qty_gte_0" not in response.content.decode()
    assert stock_of(inventory) == (10, 1)


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_a_new_product_with_negative_stock_is_refused_with_a_sentence(admin_client):
    response = admin_client.post("/admin/inventory/inventory/add/", {"product_id": 42, "available_qty": -3})

    assert response.status_code == 200
    html = response.content.decode()
    assert "Available stock cannot be negative: enter 0 or more units." in html
    assert "inventory_available_qty_gte_0" not in html
    assert not Inventory.objects.filter(product_id=42).exists()


CHECKS = [c for c in Inventory._meta.constraints if isinstance(c, models.CheckConstraint)]


@pytest.mark.parametrize("constraint", CHECKS, ids=[c.name for c in CHECKS])
def test_every_check_constraint_of_the_stock_speaks_a_sentence_of_its_own(constraint):
    message = constraint.get_violation_error_message()

    assert constraint.name not in message
    assert message.endswith(".")
    assert message != models.CheckConstraint(condition=constraint.condition, name="x").get_violation_error_message()


@pytest.mark.parametrize(
    ("values", "sentence"),
    [
        ({"available_qty": -1}, "Available stock cannot be negative"),
        ({"reserved_qty": -1}, "Reserved stock cannot be negative"),
        ({"sold_qty": -1}, "Sold stock cannot be negative"),
        ({"unit_price": Decimal("0")}, "A unit price must be more than 0"),
    ],
)
@pytest.mark.django_db(databases=["inventory"])
def test_a_violated_constraint_reads_as_a_sentence(values, sentence):
    product = Inventory(product_id=42, **{"available_qty": 1, **values})

    with pytest.raises(ValidationError) as raised:
        product.validate_constraints()

    (message,) = raised.value.messages
    assert message.startswith(sentence)


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_change_the_catalog_entry_with_the_stock(admin_client):
    inventory = InventoryFactory(available_qty=10, version=3, name="", unit_price=None)

    response = admin_client.post(
        change_url(inventory),
        {
            "name": "Lamp",
            "unit_price": "12.30",
            "currency": "EUR",
            "available_qty": 10,
            "seen_version": 3,
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    inventory.refresh_from_db()
    assert (inventory.name, inventory.unit_price, inventory.currency, inventory.version) == (
        "Lamp",
        Decimal("12.30"),
        "EUR",
        4,
    )


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_clearing_the_price_in_the_admin_withdraws_it(admin_client):
    inventory = InventoryFactory(unit_price=Decimal("12.30"), version=1)

    admin_client.post(change_url(inventory), {"unit_price": "", "available_qty": 5, "seen_version": 1, "_save": "Save"})

    inventory.refresh_from_db()
    assert (inventory.unit_price, inventory.currency) == (None, "USD")


@pytest.mark.parametrize(("field", "value"), [("unit_price", "0"), ("unit_price", "-3"), ("currency", "usd")])
@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_a_bad_price_or_currency_is_refused_by_the_admin_form(admin_client, field, value):
    inventory = InventoryFactory(unit_price=Decimal("12.30"), available_qty=10, version=1)

    response = admin_client.post(
        change_url(inventory), {field: value, "available_qty": 10, "seen_version": 1, "_save": "Save"}
    )

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    inventory.refresh_from_db()
    assert (inventory.unit_price, inventory.currency, inventory.version) == (Decimal("12.30"), "USD", 1)


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_inventory_search_by_name(admin_client):
    lamp = InventoryFactory(name="Desk lamp")
    InventoryFactory(name="Chair")

    response = admin_client.get("/admin/inventory/inventory/", {"q": "lamp"})

    assert [row.pk for row in response.context["cl"].result_list] == [lamp.pk]


# --- who may edit: Django's own model permissions -------------------------------------------


def staff_with(django_user_model, *codenames: str):
    from django.contrib.auth.models import Permission
    from django.test import Client

    user = django_user_model.objects.create_user("clerk", password="clerk-password", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="inventory", codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def stock_form(inventory: Inventory, available_qty: int) -> dict:
    return {
        "product_id": inventory.product_id,
        "name": inventory.name,
        "unit_price": inventory.unit_price or "",
        "currency": inventory.currency,
        "available_qty": available_qty,
        "seen_version": inventory.version,
    }


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_staff_without_inventory_permissions_cannot_open_the_stock(django_user_model):
    client = staff_with(django_user_model)
    inventory = InventoryFactory(available_qty=5)

    assert client.get("/admin/inventory/inventory/").status_code == 403
    assert client.post(change_url(inventory), stock_form(inventory, 50)).status_code == 403
    assert stock_of(inventory)[0] == 5


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_staff_with_view_inventory_only_read_the_stock_and_cannot_save(django_user_model):
    client = staff_with(django_user_model, "view_inventory")
    inventory = InventoryFactory(available_qty=5)

    assert client.get(change_url(inventory)).status_code == 200
    assert client.post(change_url(inventory), stock_form(inventory, 50)).status_code == 403
    assert client.get("/admin/inventory/inventory/add/").status_code == 403
    assert stock_of(inventory)[0] == 5


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_staff_with_change_inventory_save_the_stock(django_user_model):
    client = staff_with(django_user_model, "change_inventory")
    inventory = InventoryFactory(available_qty=5)

    response = client.post(change_url(inventory), stock_form(inventory, 50))

    assert response.status_code == 302
    assert stock_of(inventory)[0] == 50
