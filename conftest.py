"""Suite-wide fixtures: which database the run uses, and the rules for server tests."""

import pytest
from django.conf import settings


def pytest_report_header(config):
    engines = {alias: db["ENGINE"].rsplit(".", 1)[-1] for alias, db in settings.DATABASES.items()}
    return [f"databases: {engines}", f"messaging broker: {settings.MESSAGING_BROKER_URL.split('://')[0]}"]


def on_mariadb() -> bool:
    return all(db["ENGINE"].endswith(".mysql") for db in settings.DATABASES.values())


@pytest.fixture(autouse=True)
def _server_tests_need_servers(request):
    """A server test run without its server fails loudly: it is never skipped."""
    if request.node.get_closest_marker("mariadb") and not on_mariadb():
        pytest.fail("marked mariadb but the run is not on MariaDB: run it through `make test` (TEST_DB=mariadb)")


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    """Throttle counts (login failures, orders per user and address) start at zero in every test."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def rabbitmq_vhost(settings):
    """A fresh RabbitMQ vhost for one test; the messaging broker URL points at it."""
    import os
    import uuid

    from tests.stack import rabbitmqctl

    vhost = f"test_{os.environ.get('TEST_RUN_ID', 'local')}_{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    url = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    settings.MESSAGING_BROKER_URL = url
    settings.EMBEDDED_MODE = False
    try:
        yield url
    finally:
        rabbitmqctl("delete_vhost", vhost)


# --- Who calls the API -------------------------------------------------------
# Users live on ``default``: a test using these declares it among its databases.


@pytest.fixture
def customer(django_user_model):
    """A customer: logged in, no staff powers."""
    return django_user_model.objects.create_user("customer", password="customer-password")


@pytest.fixture
def other_customer(django_user_model):
    return django_user_model.objects.create_user("other-customer", password="other-customer-password")


@pytest.fixture
def staff_user(django_user_model):
    """Staff (may log into the admin) holding no permission at all."""
    return django_user_model.objects.create_user("staff", password="staff-password", is_staff=True)


@pytest.fixture
def operator():
    """Staff with the seed operator's permissions (manage.py create_customer --seed-operator)."""
    from apps.accounts.services import OPERATOR_PERMISSIONS, customer_upsert

    return customer_upsert(
        username="operator", password="operator-password", staff=True, permissions=OPERATOR_PERMISSIONS
    )


@pytest.fixture
def bearer_client():
    """``bearer_client(user)``: an APIClient sending ``Authorization: Bearer <a new token of user>``."""
    from rest_framework.test import APIClient

    from apps.accounts.services import token_create

    def build(user):
        token, _ = token_create(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        client.token = token
        return client

    return build


@pytest.fixture
def api_client(operator):
    """An APIClient logged in as the operator, for tests about something other than who may call what."""
    from apps.common.tests.users import logged_in

    return logged_in(operator)


@pytest.fixture
def seed_operator(operator):
    return operator


@pytest.fixture
def operator_client(api_client):
    """The seed's caller: staff who may place for any user_id at the total_amount they send."""
    return api_client


@pytest.fixture
def spans():
    """The spans ended while the test runs, recorded in memory (otherwise tests record none: OTEL_TRACES_EXPORTER=none).

    Database spans come from connections opened once recording started.
    """
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from apps.common.tracing import tracing_export_stop, tracing_export_to

    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    tracing_export_to(processor)
    try:
        yield exporter
    finally:
        tracing_export_stop(processor)
