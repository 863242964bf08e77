"""Celery tasks of the ``relay`` process."""

from celery import shared_task
from django.conf import settings

from apps.messaging.nudge import RELAY_OUTBOX_TASK
from apps.messaging.publisher import publisher_for_thread
from apps.messaging.relay import relay_drain
from apps.messaging.retention import messages_purge_all, parse_age


@shared_task(name=RELAY_OUTBOX_TASK, acks_late=False)
def relay_outbox(using: str) -> int:
    """Drain the outbox of one database (sent right after a commit)."""
    return relay_drain(using=using, publisher=publisher_for_thread())


@shared_task(name="messaging.relay_sweep", acks_late=False)
def relay_sweep() -> int:
    """Drain every outbox (run by beat): the backstop for lost nudges and crashed relays."""
    return sum(relay_drain(using=alias, publisher=publisher_for_thread()) for alias in settings.DOMAIN_DATABASES)


@shared_task(name="messaging.purge_messages", acks_late=False)
def purge_messages() -> int:
    """Delete dispatched outbox rows and old inbox rows in every database (run by beat); return the count."""
    results = messages_purge_all(
        older_than=parse_age(settings.MESSAGE_RETENTION), batch_size=settings.MESSAGE_PURGE_BATCH_SIZE
    )
    return sum(result.outbox + result.inbox for result in results.values())
