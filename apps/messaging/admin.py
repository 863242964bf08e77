"""What operators see of the messaging: each database's outbox and inbox, read-only, and the DLQs.

One model class serves every domain database (each holds its own outbox and
inbox), so each list has a database switch: the admin reads the table of the
database the ``database`` parameter names, the first domain database by
default. Proxy models per database would bake the domain apps' names into
messaging, which knows none, and add a migration per database.

The dead-letter page reads and acts on the broker through ``apps.messaging.dlq``,
the same functions ``manage.py dlq`` calls; on the embedded mode's in-process
broker it is the only way in, since the DLQs live inside the ``make run`` process.
"""

import json
from urllib.parse import parse_qs

import amqp
import kombu.exceptions
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.timesince import timesince

from apps.common.admin import ReadOnlyAdmin
from apps.messaging.dlq import (
    DeadLetter,
    UnknownQueue,
    dlq_broker_in_process,
    dlq_depths,
    dlq_peek,
    dlq_purge,
    dlq_redrive,
    dlq_resolve,
)
from apps.messaging.models import DeadLetterQueue, InboxMessage, OutboxMessage

DATABASE_PARAMETER = "database"
# What a page shows of each dead letter: enough to see what it is, never a page of megabytes.
BODY_PREVIEW_CHARS = 4000
HEADER_PREVIEW_CHARS = 500
PEEK_LIMIT = 20
# What the broker or the connection to it raises: the page says so instead of failing with a 500.
BROKER_ERRORS = (OSError, amqp.exceptions.AMQPError, kombu.exceptions.KombuError)


def selected_database(request: HttpRequest) -> str:
    """The domain database a list or object page reads: its ``database`` parameter, kept by the admin's links.

    Raises Http404 for a name that is not a domain database.
    """
    alias = request.GET.get(DATABASE_PARAMETER)
    if alias is None:
        # An object page opened from a list carries the list's parameters in _changelist_filters.
        preserved = parse_qs(request.GET.get("_changelist_filters", ""))
        alias = preserved.get(DATABASE_PARAMETER, [settings.DOMAIN_DATABASES[0]])[0]
    if alias not in settings.DOMAIN_DATABASES:
        raise Http404(f"no domain database {alias!r}")
    return alias


class DatabaseFilter(admin.SimpleListFilter):
    """Which domain database's table the list shows; there is no "all": each is its own table."""

    title = "database"
    parameter_name = DATABASE_PARAMETER

    def lookups(self, request, model_admin):
        return [(alias, alias) for alias in settings.DOMAIN_DATABASES]

    def value(self):
        return super().value() or settings.DOMAIN_DATABASES[0]

    def choices(self, changelist):
        for alias, title in self.lookup_choices:
            yield {
                "selected": self.value() == alias,
                "query_string": changelist.get_query_string({self.parameter_name: alias}),
                "display": title,
            }

    def queryset(self, request, queryset):
        # The admin's get_queryset has already put the whole list, its counts included, on this database.
        return queryset


class PerDatabaseAdmin(ReadOnlyAdmin):
    def get_queryset(self, request):
        return super().get_queryset(request).using(selected_database(request))

    def changelist_view(self, request, extra_context=None):
        title = f"{self.model._meta.verbose_name_plural.capitalize()} in the {selected_database(request)} database"
        return super().changelist_view(request, extra_context={"title": title, **(extra_context or {})})


class OutboxStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("pending", "Pending"), ("dispatched", "Dispatched")]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(dispatched_at__isnull=True)
        if self.value() == "dispatched":
            return queryset.filter(dispatched_at__isnull=False)
        return queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(PerDatabaseAdmin):
    list_display = (
        "id",
        "status",
        "age",
        "routing_key",
        "saga_id",
        "publish_attempts",
        "last_error",
        "created_at",
        "dispatched_at",
    )
    list_filter = (DatabaseFilter, OutboxStatusFilter, "routing_key")
    search_fields = ("=message_id", "=saga_id", "=trace_id")
    ordering = ("-id",)

    @admin.display(description="status")
    def status(self, message: OutboxMessage) -> str:
        return "pending" if message.dispatched_at is None else "dispatched"

    @admin.display(description="age", ordering="created_at")
    def age(self, message: OutboxMessage) -> str:
        return timesince(message.created_at, timezone.now())


@admin.register(InboxMessage)
class InboxMessageAdmin(PerDatabaseAdmin):
    list_display = ("message_id", "queue", "routing_key", "received_at", "age")
    list_filter = (DatabaseFilter, "queue", "routing_key")
    search_fields = ("=message_id",)
    ordering = ("-id",)

    @admin.display(description="age", ordering="received_at")
    def age(self, message: InboxMessage) -> str:
        return timesince(message.received_at, timezone.now())


@admin.register(DeadLetterQueue)
class DeadLetterQueueAdmin(ReadOnlyAdmin):
    """The DLQs of the broker: their depths, the messages at their heads, redrive and purge."""

    def get_urls(self):
        view = self.admin_site.admin_view
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("", view(self.changelist_view), name=f"{name}_changelist"),
            path("<str:queue>/", view(self.queue_view), name=f"{name}_queue"),
            path("<str:queue>/redrive/", view(self.redrive_view), name=f"{name}_redrive"),
            path("<str:queue>/purge/", view(self.purge_view), name=f"{name}_purge"),
        ]

    def has_redrive_permission(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.redrive_deadletter")

    def has_purge_permission(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.purge_deadletter")

    def changelist_view(self, request, extra_context=None):
        self._require(self.has_view_permission(request))
        depths = self._from_broker(request, dlq_depths, default=[])
        rows = [
            {"queue": depth.queue, "messages": depth.messages, "url": self._url("queue", depth.queue)}
            for depth in depths
        ]
        return self._render(request, "admin/messaging/deadletterqueue/index.html", "Dead-letter queues", rows=rows)

    def queue_view(self, request, queue: str):
        self._require(self.has_view_permission(request))
        dlq_name = self._resolve(queue)
        letters = self._from_broker(request, lambda: dlq_peek(queue=dlq_name, limit=PEEK_LIMIT), default=[])
        return self._render(
            request,
            "admin/messaging/deadletterqueue/queue.html",
            dlq_name,
            dlq_name=dlq_name,
            letters=[_shown(letter) for letter in letters],
            peek_limit=PEEK_LIMIT,
            can_redrive=self.has_redrive_permission(request),
            can_purge=self.has_purge_permission(request),
            redrive_url=self._url("redrive", dlq_name),
            purge_url=self._url("purge", dlq_name),
        )

    def redrive_view(self, request, queue: str):
        self._require(self.has_redrive_permission(request))
        dlq_name = self._resolve(queue)
        message_id = (request.POST.get("message_id") or request.GET.get("message_id") or "").strip() or None
        if request.method == "POST" and request.POST.get("confirmed") == "yes":
            result = self._from_broker(request, lambda: dlq_redrive(queue=dlq_name, message_id=message_id))
            if result is not None:
                self._report_redrive(request, dlq_name, message_id, result)
            return HttpResponseRedirect(self._url("queue", dlq_name))
        what = f"message {message_id}" if message_id else f"every message of {dlq_name}"
        return self._render(
            request,
            "admin/messaging/deadletterqueue/confirm.html",
            f"Redrive {what}?",
            dlq_name=dlq_name,
            message_id=message_id,
            action="redrive",
            explanation=(
                f"Sends {what} back to the exchange and routing key it was first sent with, "
                "with x-retry-count reset to 0. A message the broker cannot route stays in the DLQ."
            ),
            queue_url=self._url("queue", dlq_name),
        )

    def purge_view(self, request, queue: str):
        self._require(self.has_purge_permission(request))
        dlq_name = self._resolve(queue)
        if request.method == "POST" and request.POST.get("confirmed") == "yes":
            purged = self._from_broker(request, lambda: dlq_purge(queue=dlq_name))
            if purged is not None:
                self.message_user(request, f"Purged {purged} message(s) from {dlq_name}.", messages.SUCCESS)
            return HttpResponseRedirect(self._url("queue", dlq_name))
        return self._render(
            request,
            "admin/messaging/deadletterqueue/confirm.html",
            f"Purge every message of {dlq_name}?",
            dlq_name=dlq_name,
            action="purge",
            explanation="Deletes every message of this DLQ. This cannot be undone.",
            queue_url=self._url("queue", dlq_name),
        )

    def _report_redrive(self, request, dlq_name: str, message_id: str | None, result) -> None:
        if result.redriven:
            self.message_user(
                request,
                f"Redrove {len(result.redriven)} message(s) from {dlq_name}: {', '.join(result.redriven)}.",
                messages.SUCCESS,
            )
        for failed_id, reason in result.failed.items():
            self.message_user(request, f"Kept {failed_id} in {dlq_name}: {reason}.", messages.ERROR)
        if message_id is not None and not result.redriven and not result.failed:
            self.message_user(request, f"No message {message_id} in {dlq_name}.", messages.WARNING)
        elif not result.redriven and not result.failed:
            self.message_user(request, f"{dlq_name} is empty: nothing redriven.", messages.INFO)

    def _from_broker(self, request, call, *, default=None):
        """What ``call`` returns, or ``default`` with an error message naming the broker's refusal."""
        try:
            return call()
        except BROKER_ERRORS as exc:
            self.message_user(request, f"The broker could not be reached or refused: {exc}", messages.ERROR)
            return default

    def _render(self, request, template: str, title: str, **context):
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": title,
                "changelist_url": self._url("changelist"),
                "in_process": dlq_broker_in_process(),
                **context,
            },
        )

    def _url(self, view: str, queue: str | None = None) -> str:
        args = [queue] if queue is not None else []
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_{view}", args=args)

    @staticmethod
    def _resolve(queue: str) -> str:
        try:
            return dlq_resolve(queue=queue).dlq_name
        except UnknownQueue as exc:
            raise Http404(str(exc)) from exc

    @staticmethod
    def _require(allowed: bool) -> None:
        if not allowed:
            raise PermissionDenied


def _shown(letter: DeadLetter) -> dict:
    """A dead letter as the page shows it: text only (the template escapes it), each part cut to a size."""
    return {
        "message_id": letter.message_id,
        "reason": letter.reason,
        "retry_count": letter.retry_count,
        "headers": [(name, _cut(_header_text(value), HEADER_PREVIEW_CHARS)) for name, value in letter.headers.items()],
        "body": _cut(_body_text(letter.body), BODY_PREVIEW_CHARS),
    }


def _body_text(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False, sort_keys=True)
    except ValueError:
        return text


def _header_text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"
