"""No log line carries a password: URL credentials and secret-looking fields are blanked, tracebacks too."""

import json
import logging

import pytest
import structlog
from django.conf import settings

from config.logging import configure_logging

PASSWORD = "s3cr3t-Pa55"
URLS = [
    f"mysql://sagas:{PASSWORD}@db.internal:3306/sagas_orders",
    f"amqp://orders-app:{PASSWORD}@rabbit:5672/sagas",
]


@pytest.fixture
def json_logs(capsys):
    """Call it once to switch to JSON logs on the captured stdout, then again to read what was logged."""
    started = []

    def logs() -> list[dict] | None:
        if not started:
            # The handler binds sys.stdout when configured: configure it here, in the test's own capture.
            configure_logging(service="test", log_format="json", level="INFO")
            started.append(True)
            return None
        return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]

    yield logs
    configure_logging(service=settings.SERVICE_NAME, log_format=settings.LOG_FORMAT, level=settings.LOG_LEVEL)


def test_urls_secret_fields_and_tracebacks_lose_their_passwords(json_logs):
    json_logs()
    log = structlog.get_logger("redaction")
    log.info("connecting", url=URLS[0], nested={"broker": URLS[1], "password": PASSWORD}, tried=[URLS[1]])
    log.warning("auth", authorization=f"Basic {PASSWORD}", api_key=PASSWORD)
    try:
        raise ConnectionError(f"could not reach {URLS[1]}")
    except ConnectionError:
        logging.getLogger("redaction.stdlib").exception("broker down at %s", URLS[0])

    records = json_logs()
    text = json.dumps(records)

    assert len(records) == 3
    assert PASSWORD not in text
    assert records[0]["url"] == "mysql://sagas:***@db.internal:3306/sagas_orders"
    assert records[0]["nested"] == {"broker": "amqp://orders-app:***@rabbit:5672/sagas", "password": "***"}
    assert records[1]["authorization"] == "***"
    assert "amqp://orders-app:***@rabbit" in records[2]["exception"]


def test_what_is_not_a_secret_is_left_alone(json_logs):
    json_logs()
    structlog.get_logger("redaction").info(
        "published", url="amqp://rabbit:5672/sagas", trace_id="abc", transaction_id="txn_1", amount="19.99"
    )

    [record] = json_logs()
    assert (record["url"], record["trace_id"], record["transaction_id"]) == ("amqp://rabbit:5672/sagas", "abc", "txn_1")


def test_a_call_below_the_level_is_dropped_before_the_chain_and_the_level_is_read_each_time(json_logs, monkeypatch):
    json_logs()
    seen = []
    monkeypatch.setattr(
        structlog.stdlib.BoundLogger, "_proxy_to_logger", lambda _self, _method, event, **_kw: seen.append(event)
    )
    log = structlog.get_logger("levels")
    logging.getLogger("levels").setLevel(logging.WARNING)
    try:
        log.debug("not this")
        log.info("nor this")
        log.warning("this")
        logging.getLogger("levels").setLevel(logging.DEBUG)
        log.debug("and now this")
        log.info("and this")
    finally:
        logging.getLogger("levels").setLevel(logging.NOTSET)

    assert seen == ["this", "and now this", "and this"]


def test_a_call_at_the_level_is_rendered_with_its_context(json_logs):
    json_logs()
    structlog.get_logger("levels").bind(order_id=7).info("placed", saga_id="s1")

    (record,) = json_logs()

    assert record["event"] == "placed"
    assert record["order_id"] == 7
    assert record["saga_id"] == "s1"
    assert record["level"] == "info"
