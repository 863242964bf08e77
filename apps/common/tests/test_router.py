"""config.db_router: each domain app on its own database, messaging in every domain database.

Models are looked up through the app registry: apps.common may not import a domain app.
"""

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connections, router

from config.db_router import AppDatabaseRouter

DOMAIN_ALIASES = ["orders", "inventory", "payments"]
ALL_ALIASES = ["default", *DOMAIN_ALIASES]
MESSAGING_TABLES = {"messaging_outbox", "messaging_inbox"}

ROUTES = [
    ("orders", "Order", "orders"),
    ("orders", "SagaState", "orders"),
    ("inventory", "Inventory", "inventory"),
    ("inventory", "InventoryLog", "inventory"),
    ("payments", "Payment", "payments"),
    ("auth", "User", "default"),
    ("auth", "Group", "default"),
    ("contenttypes", "ContentType", "default"),
    ("sessions", "Session", "default"),
    ("admin", "LogEntry", "default"),
]


def model_tables(app_label: str) -> set[str]:
    return {model._meta.db_table for model in apps.get_app_config(app_label).get_models(include_auto_created=True)}


@pytest.mark.parametrize(("app_label", "model_name", "alias"), ROUTES)
def test_reads_and_writes_go_to_the_app_database(app_label, model_name, alias):
    model = apps.get_model(app_label, model_name)

    assert router.db_for_read(model) == alias
    assert router.db_for_write(model) == alias
    assert AppDatabaseRouter().db_for_read(model) == alias
    assert AppDatabaseRouter().db_for_write(model) == alias


@pytest.mark.parametrize("model_name", ["OutboxMessage", "InboxMessage"])
def test_messaging_models_have_no_database_of_their_own(model_name):
    model = apps.get_model("messaging", model_name)

    assert AppDatabaseRouter().db_for_read(model) is None
    assert AppDatabaseRouter().db_for_write(model) is None


@pytest.mark.parametrize(("app_label", "model_name", "alias"), ROUTES)
@pytest.mark.parametrize("database", ALL_ALIASES)
def test_apps_migrate_only_on_their_database(app_label, model_name, alias, database):
    allowed = AppDatabaseRouter().allow_migrate(database, app_label, model_name=model_name.lower())

    assert allowed is (database == alias)


@pytest.mark.parametrize("database", ALL_ALIASES)
def test_messaging_tables_migrate_on_every_domain_database_only(database):
    allowed = AppDatabaseRouter().allow_migrate(database, "messaging", model_name="outboxmessage")

    assert allowed is (database in DOMAIN_ALIASES)
    assert set(settings.DOMAIN_DATABASES) == set(DOMAIN_ALIASES)


def instance_on(alias: str, app_label: str, model_name: str):
    instance = apps.get_model(app_label, model_name)()
    instance._state.db = alias
    return instance


def test_relations_within_one_database_are_allowed():
    order = instance_on("orders", "orders", "Order")
    saga = instance_on("orders", "orders", "SagaState")

    assert AppDatabaseRouter().allow_relation(order, saga) is True


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("orders", "orders", "Order"), ("inventory", "inventory", "Inventory")),
        (("orders", "orders", "Order"), ("payments", "payments", "Payment")),
        (("inventory", "inventory", "InventoryLog"), ("payments", "payments", "Payment")),
        (("default", "auth", "User"), ("orders", "orders", "Order")),
        (("orders", "messaging", "OutboxMessage"), ("inventory", "messaging", "OutboxMessage")),
    ],
)
def test_relations_across_databases_are_refused(first, second):
    assert AppDatabaseRouter().allow_relation(instance_on(*first), instance_on(*second)) is False
    assert AppDatabaseRouter().allow_relation(instance_on(*second), instance_on(*first)) is False


@pytest.mark.mariadb
@pytest.mark.django_db(databases=ALL_ALIASES)
def test_each_database_holds_only_its_own_tables():
    tables = {alias: set(connections[alias].introspection.table_names()) for alias in ALL_ALIASES}
    domain_tables = set().union(*(model_tables(alias) for alias in DOMAIN_ALIASES))

    for alias in DOMAIN_ALIASES:
        assert tables[alias] == model_tables(alias) | MESSAGING_TABLES | {"django_migrations"}, alias
    assert not tables["default"] & (domain_tables | MESSAGING_TABLES)
    assert {"auth_user", "django_session", "django_content_type", "django_admin_log"} <= tables["default"]
