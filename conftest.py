"""Suite-wide fixtures: which database the run uses, and the rules for server tests."""

import pytest
from django.conf import settings


def pytest_report_header(config):
    engines = {alias: db["ENGINE"].rsplit(".", 1)[-1] for alias, db in settings.DATABASES.items()}
    return [f"databases: {engines}", f"messaging broker: {settings.MESSAGING_BROKER_URL.split('://')[0]}"]


def on_mariadb() -> bool:
    return all(db["ENGINE"] == "django.db.backends.mysql" for db in settings.DATABASES.values())


@pytest.fixture(autouse=True)
def _server_tests_need_servers(request):
    """A server test run without its server fails loudly: it is never skipped."""
    if request.node.get_closest_marker("mariadb") and not on_mariadb():
        pytest.fail("marked mariadb but the run is not on MariaDB: run it through `make test` (TEST_DB=mariadb)")
