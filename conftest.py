"""Suite-wide fixtures: which database the run uses, and the rules for server tests."""

import pytest
from django.conf import settings

from apps.common.tests.users import SEED_OPERATOR_PERMISSIONS, grant


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


@pytest.fixture
def seed_operator(django_user_model):
    password = "seed-operator-password"  # noqa: S105 (a test user's)
    user = django_user_model.objects.create_user("seed-operator", password=password, is_staff=True)
    return grant(user, *SEED_OPERATOR_PERMISSIONS)


@pytest.fixture
def operator_client(seed_operator):
    """An API client logged in as the seed's operator (the seed's contract: user_id and total_amount in the body)."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(seed_operator)
    return client
