"""Retention of the outbox and inbox: what is deleted, what is kept, in bounded batches.

Runs on SQLite in the first pass of make test and on MariaDB in the second.
"""

import io
import uuid
from datetime import timedelta

import pytest
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.messaging.models import InboxMessage, OutboxMessage
from apps.messaging.retention import InvalidAge, format_age, messages_purge, parse_age
from apps.messaging.tasks import purge_messages

DOMAIN = ["orders", "inventory", "payments"]


def outbox_row(using: str, *, created_days_ago: float, dispatched_days_ago: float | None) -> OutboxMessage:
    now = timezone.now()
    row = OutboxMessage.objects.using(using).create(
        exchange="saga.commands", routing_key="inventory.reserve", message_type="ReserveInventory", payload={}
    )
    OutboxMessage.objects.using(using).filter(pk=row.pk).update(
        created_at=now - timedelta(days=created_days_ago),
        dispatched_at=None if dispatched_days_ago is None else now - timedelta(days=dispatched_days_ago),
    )
    return row


def inbox_row(using: str, *, days_ago: float) -> InboxMessage:
    row = InboxMessage.objects.using(using).create(
        message_id=uuid.uuid4(), queue="inventory.commands", routing_key="inventory.reserve"
    )
    InboxMessage.objects.using(using).filter(pk=row.pk).update(received_at=timezone.now() - timedelta(days=days_ago))
    return row


def remaining(model, using: str) -> set[int]:
    return set(model.objects.using(using).values_list("pk", flat=True))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", timedelta(days=7)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("3600s", timedelta(seconds=3600)),
        (" 0s ", timedelta(0)),
    ],
)
def test_ages_parse(text, expected):
    assert parse_age(text) == expected


@pytest.mark.parametrize("text", ["7", "7w", "-1d", "1.5h", "d", "", "7 days"])
def test_anything_else_is_not_an_age(text):
    with pytest.raises(InvalidAge):
        parse_age(text)


def test_ages_print_in_their_largest_whole_unit():
    assert [format_age(parse_age(text)) for text in ("14d", "48h", "90m", "3600s", "61s")] == [
        "14d",
        "2d",
        "90m",
        "1h",
        "61s",
    ]


@pytest.mark.django_db(databases=["orders"])
def test_purge_deletes_old_dispatched_rows_and_keeps_the_rest():
    old_sent = outbox_row("orders", created_days_ago=9, dispatched_days_ago=8)
    young_sent = outbox_row("orders", created_days_ago=30, dispatched_days_ago=1)
    old_unsent = outbox_row("orders", created_days_ago=400, dispatched_days_ago=None)
    young_unsent = outbox_row("orders", created_days_ago=0, dispatched_days_ago=None)

    result = messages_purge(
        using="orders", older_than=timedelta(days=7), dedup_window=timedelta(days=14), batch_size=1000
    )

    assert result.outbox == 1
    assert old_sent.pk not in remaining(OutboxMessage, "orders")
    assert remaining(OutboxMessage, "orders") == {young_sent.pk, old_unsent.pk, young_unsent.pk}


@pytest.mark.django_db(databases=["orders"])
def test_the_inbox_keeps_the_dedup_window_even_when_asked_for_less():
    inside_window = inbox_row("orders", days_ago=10)
    young = inbox_row("orders", days_ago=0.5)
    beyond_window = inbox_row("orders", days_ago=15)

    result = messages_purge(
        using="orders", older_than=timedelta(days=1), dedup_window=timedelta(days=14), batch_size=10
    )

    assert result.inbox == 1
    assert result.inbox_kept_for == timedelta(days=14)
    assert remaining(InboxMessage, "orders") == {inside_window.pk, young.pk}
    assert beyond_window.pk not in remaining(InboxMessage, "orders")


@pytest.mark.django_db(databases=["orders"])
def test_the_inbox_keeps_the_retention_age_when_it_is_longer_than_the_window():
    kept = inbox_row("orders", days_ago=20)
    inbox_row("orders", days_ago=40)

    result = messages_purge(
        using="orders", older_than=timedelta(days=30), dedup_window=timedelta(days=14), batch_size=10
    )

    assert (result.inbox, result.inbox_kept_for) == (1, timedelta(days=30))
    assert remaining(InboxMessage, "orders") == {kept.pk}


@pytest.mark.django_db(databases=["orders"])
def test_purge_deletes_in_batches_of_the_given_size():
    for _ in range(5):
        outbox_row("orders", created_days_ago=20, dispatched_days_ago=10)
    keep = outbox_row("orders", created_days_ago=20, dispatched_days_ago=None)

    with CaptureQueriesContext(connections["orders"]) as queries:
        result = messages_purge(
            using="orders", older_than=timedelta(days=7), dedup_window=timedelta(days=14), batch_size=2
        )

    outbox_deletes = [q["sql"] for q in queries if q["sql"].startswith("DELETE") and "messaging_outbox" in q["sql"]]
    assert result.outbox == 5
    assert len(outbox_deletes) == 3, "2 + 2 + 1 rows"
    assert all("IN (" in sql for sql in outbox_deletes)
    assert remaining(OutboxMessage, "orders") == {keep.pk}


@pytest.mark.django_db(databases=DOMAIN)
def test_the_command_purges_every_domain_database_and_reports_counts(settings):
    settings.INBOX_DEDUP_WINDOW = "14d"
    for alias in DOMAIN:
        outbox_row(alias, created_days_ago=9, dispatched_days_ago=8)
        outbox_row(alias, created_days_ago=9, dispatched_days_ago=None)
        inbox_row(alias, days_ago=20)
        inbox_row(alias, days_ago=8)
    out = io.StringIO()

    call_command("purge_messages", "--older-than", "7d", "--batch-size", "2", stdout=out)

    assert out.getvalue().splitlines() == [
        f"{alias}: deleted 1 outbox row(s) dispatched over 7d ago, 1 inbox row(s) received over 14d ago"
        for alias in DOMAIN
    ]
    for alias in DOMAIN:
        assert OutboxMessage.objects.using(alias).filter(dispatched_at__isnull=True).count() == 1
        assert OutboxMessage.objects.using(alias).count() == 1
        assert InboxMessage.objects.using(alias).count() == 1


@pytest.mark.django_db(databases=DOMAIN)
def test_the_beat_task_uses_the_retention_settings(settings):
    settings.MESSAGE_RETENTION = "2d"
    settings.INBOX_DEDUP_WINDOW = "3d"
    settings.MESSAGE_PURGE_BATCH_SIZE = 1
    outbox_row("payments", created_days_ago=3, dispatched_days_ago=2.5)
    young = outbox_row("payments", created_days_ago=3, dispatched_days_ago=1.5)
    inbox_row("inventory", days_ago=2.5)
    inbox_row("inventory", days_ago=3.5)

    assert purge_messages() == 2
    assert remaining(OutboxMessage, "payments") == {young.pk}
    assert InboxMessage.objects.using("inventory").count() == 1
    assert "messaging.purge_messages" in {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}


def test_bad_arguments_and_settings_are_refused(settings):
    with pytest.raises(CommandError, match="not an age"):
        call_command("purge_messages", "--older-than", "7 days")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("purge_messages", "--batch-size", "0")

    settings.INBOX_DEDUP_WINDOW = "two weeks"
    assert [error.id for error in run_checks() if error.id.startswith("messaging.")] == ["messaging.E001"]


@pytest.mark.django_db(databases=DOMAIN)
def test_the_command_reports_progress_on_stderr_and_keeps_stdout_as_it_was(settings):
    settings.INBOX_DEDUP_WINDOW = "14d"
    for _ in range(25):
        outbox_row("orders", created_days_ago=9, dispatched_days_ago=8)
    out, err = io.StringIO(), io.StringIO()

    call_command("purge_messages", "--older-than", "7d", "--batch-size", "1", stdout=out, stderr=err)

    assert out.getvalue().splitlines()[0] == (
        "orders: deleted 25 outbox row(s) dispatched over 7d ago, 0 inbox row(s) received over 14d ago"
    )
    assert [line.split(" (")[0] for line in err.getvalue().splitlines()] == [
        "purging messages: 10",
        "purging messages: 20",
        "purging messages: 25",
    ]
