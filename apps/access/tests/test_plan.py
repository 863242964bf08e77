"""The plan itself: every process has its principal, and the rights read as the design says."""

import re

from apps.access.plan import DDL, PRINCIPALS, PROCESSES, anchored, event_keys
from tests.stack import procfile


def test_every_procfile_process_has_a_principal_of_its_own():
    assert set(PROCESSES) == set(procfile())
    assert set(PROCESSES) <= set(PRINCIPALS)


def test_only_the_migrate_user_may_change_a_schema():
    holders = {
        name
        for name, principal in PRINCIPALS.items()
        for grants in principal.databases.values()
        for grant in grants
        if grant.privileges == DDL
    }
    assert holders == {"migrate"}


def test_consumers_reach_only_their_own_database_and_flower_none():
    assert {name: set(PRINCIPALS[name].databases) for name in PROCESSES if name.endswith("-consumer")} == {
        "orders-consumer": {"orders"},
        "inventory-consumer": {"inventory"},
        "payments-consumer": {"payments"},
    }
    assert PRINCIPALS["flower"].databases == {}
    assert "default" not in PRINCIPALS["relay"].databases


def test_no_process_may_configure_a_saga_exchange_or_queue():
    saga_names = ["saga.commands", "saga.events", "saga.retry", "inventory.commands", "order.events.dlq"]
    for name in PROCESSES:
        configure, _write, _read = PRINCIPALS[name].broker.permissions
        assert not [saga for saga in saga_names if re.fullmatch(configure, saga)], name


def test_a_consumer_may_publish_only_its_own_events():
    assert PRINCIPALS["inventory-consumer"].broker.event_keys == event_keys("inventory.")
    assert PRINCIPALS["payments-consumer"].broker.event_keys == ("payment.processed", "payment.refunded")
    topic = PRINCIPALS["payments-consumer"].broker.topic_write
    assert re.fullmatch(topic, "payment.processed")
    assert not re.fullmatch(topic, "inventory.reserved")
    assert not re.fullmatch(topic, "payment.processedX")


def test_no_alternative_means_nothing_at_all():
    assert anchored(()) == "^$"
    assert not re.fullmatch(anchored(()), "relay")
