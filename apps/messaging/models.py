"""Outbox and inbox: one table of each in every domain database.

Rows are always read and written with an explicit ``using=alias``: the outbox
row must commit in the same transaction, on the same database, as the state
change it announces.
"""

import uuid

from django.db import models


class OutboxMessage(models.Model):
    message_id = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    exchange = models.CharField(max_length=100)
    routing_key = models.CharField(max_length=100)
    message_type = models.CharField(max_length=100)
    payload = models.JSONField()
    # The W3C traceparent of the span that wrote the row (apps.common.tracing): the relay's publish span is its child.
    traceparent = models.CharField(max_length=55, blank=True, default="", db_default="")
    # Written only by the previous version (a bare trace id), which may still run while a deploy rolls out;
    # nothing reads it. To be dropped by a later migration (docs/decisions.md).
    trace_id = models.CharField(max_length=64, blank=True, default="", db_default="")
    saga_id = models.UUIDField(null=True, blank=True, db_index=True)
    # The producing app's HMAC (apps.messaging.signing): the relay carries it, holding no key itself.
    signature = models.CharField(max_length=100, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    # NULL until a relay saw the broker confirm the publish; the claim index.
    dispatched_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Set when the broker refused the row (unroutable, nacked): skipped until then.
    publish_attempts = models.PositiveIntegerField(default=0)
    retry_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        db_table = "messaging_outbox"

    def __str__(self) -> str:
        return f"{self.routing_key} {self.message_id}"


class InboxMessage(models.Model):
    """A message this database has handled; the unique message_id rejects a second delivery."""

    message_id = models.UUIDField(unique=True)
    queue = models.CharField(max_length=100)
    routing_key = models.CharField(max_length=100)
    # Retention deletes by age in batches; without the index each batch would scan the table.
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "messaging_inbox"

    def __str__(self) -> str:
        return f"{self.queue} {self.message_id}"


class DeadLetterQueue(models.Model):
    """No table: the admin's dead-letter page (the DLQs live in the broker) hangs on it, with its permissions.

    Looking needs ``view_deadletterqueue``; sending messages back and deleting them each need their own.
    """

    class Meta:
        managed = False
        db_table = "messaging_dead_letter_queue_unmanaged"
        default_permissions = ("view",)
        permissions = [
            ("redrive_deadletter", "Can send dead letters back to the queue they were first sent to"),
            ("purge_deadletter", "Can delete every dead letter of a queue"),
        ]
        verbose_name = "dead-letter queue"

    def __str__(self) -> str:
        return "dead-letter queues"
