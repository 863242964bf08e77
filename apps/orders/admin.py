from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from apps.common.admin import ReadOnlyAdmin
from apps.orders.models import Order, SagaState
from apps.orders.selectors import STUCK, order_sagas, saga_history, saga_stuck_count, saga_with_progress
from apps.orders.services.operator import (
    saga_force_compensation,
    saga_mark_resolved,
    saga_operator_actions,
    saga_retry_step,
)


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("id", "user_id", "products", "total_amount", "currency", "status", "created_at")
    readonly_fields = ("order_lines", "sagas")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("lines")

    @admin.display(description="lines")
    def products(self, order: Order):
        return ", ".join(f"{line.quantity} x {line.product_id}" for line in order.lines.all())

    @admin.display(description="lines")
    def order_lines(self, order: Order):
        return format_html_join(
            mark_safe("<br>"),
            "{} x product {} at {} = {}",
            (
                (line.quantity, line.product_id, line.unit_price or "-", line.line_total or "-")
                for line in order.lines.all()
            ),
        )

    @admin.display(description="sagas")
    def sagas(self, order: Order):
        return format_html_join(
            mark_safe("<br>"),
            '<a href="{}">{} {}</a> ({}/{})',
            (
                (
                    reverse("admin:orders_sagastate_change", args=[saga.pk]),
                    saga.saga_type,
                    saga.saga_id,
                    saga.status,
                    saga.current_step,
                )
                for saga in order_sagas(order_id=order.pk)
            ),
        )

    list_filter = ("status",)
    search_fields = ("=id", "=user_id", "=lines__product_id")
    date_hierarchy = "created_at"


class StuckFilter(admin.SimpleListFilter):
    title = "progress"
    parameter_name = "stuck"

    def lookups(self, request, model_admin):
        return [("yes", "Stuck (past its step deadline)"), ("no", "Not stuck")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(STUCK)
        if self.value() == "no":
            return queryset.exclude(STUCK)
        return queryset


@admin.register(SagaState)
class SagaStateAdmin(ReadOnlyAdmin):
    """Sagas, their timelines, and the three operator actions (each recorded in the saga's history)."""

    list_display = (
        "saga_id",
        "saga_type",
        "order_id",
        "progress",
        "status",
        "current_step",
        "deadline_at",
        "updated_at",
    )
    list_filter = (StuckFilter, "saga_type", "status", "current_step")
    search_fields = ("=saga_id", "=order_id", "=trace_id")
    date_hierarchy = "created_at"
    actions = ("retry_current_step", "force_compensation", "mark_resolved")
    # Each needs orders.operate_saga: without it the actions and the change page's buttons are not offered.
    operator_actions = frozenset(actions)
    fields = (
        "saga_id",
        "saga_type",
        "order_id",
        "progress",
        "status",
        "current_step",
        "cancelling",
        "step_attempts",
        "deadline_at",
        "trace_id",
        "created_at",
        "updated_at",
        "completed_at",
        "timeline",
    )
    readonly_fields = fields

    def get_queryset(self, request) -> QuerySet[SagaState]:
        return saga_with_progress(super().get_queryset(request))

    def changelist_view(self, request, extra_context=None):
        if (
            request.method == "POST"
            and request.POST.get("action") in self.operator_actions
            and not self.has_operate_saga_permission(request)
        ):
            # Django would ignore an action it does not offer and show the list; say no instead.
            raise PermissionDenied
        stuck = saga_stuck_count()
        if stuck and request.method == "GET":
            self.message_user(
                request,
                format_html(
                    '{} saga(s) are stuck past their step deadline. <a href="?stuck=yes">Show them</a>.', stuck
                ),
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        saga = self.get_object(request, object_id)
        extra_context = {
            **(extra_context or {}),
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "saga_actions": (
                saga_operator_actions(saga) if saga is not None and self.has_operate_saga_permission(request) else []
            ),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="progress")
    def progress(self, saga: SagaState):
        if getattr(saga, "is_stuck", False):
            overdue = int((timezone.now() - saga.deadline_at).total_seconds())
            return format_html(
                '<strong style="color:#fff;background:#ba2121;padding:2px 6px;border-radius:3px">'
                "STUCK</strong> {}s past deadline",
                overdue,
            )
        return "ok"

    @admin.display(description="timeline")
    def timeline(self, saga: SagaState):
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    entry.at.isoformat(timespec="milliseconds"),
                    entry.event,
                    f"{entry.from_status}/{entry.from_step}" if entry.from_status else "—",
                    f"{entry.to_status}/{entry.to_step}",
                    entry.reason or "",
                    entry.actor or "",
                    entry.message_id or "",
                )
                for entry in saga_history(saga=saga)
            ),
        )
        return format_html(
            '<table class="saga-timeline"><thead><tr><th>at</th><th>event</th><th>from → to</th>'
            "<th>reason</th><th>actor</th><th>message id</th></tr></thead><tbody>{}</tbody></table>",
            rows or format_html('<tr><td colspan="6">{}</td></tr>', "no history recorded"),
        )

    def has_operate_saga_permission(self, request) -> bool:
        return request.user.has_perm("orders.operate_saga")

    @admin.action(description="Retry the current step (re-send its command)", permissions=["operate_saga"])
    def retry_current_step(self, request, queryset):
        self._act(request, queryset, "retried", lambda saga, actor: saga_retry_step(saga_id=saga, actor=actor))

    @admin.action(description="Force compensation", permissions=["operate_saga"])
    def force_compensation(self, request, queryset):
        self._act(
            request,
            queryset,
            "sent to compensation",
            lambda saga, actor: saga_force_compensation(saga_id=saga, actor=actor, reason=f"forced by {actor}"),
        )

    @admin.action(description="Mark FAILED saga resolved (after manual intervention)", permissions=["operate_saga"])
    def mark_resolved(self, request, queryset):
        self._act(
            request,
            queryset,
            "marked resolved",
            lambda saga, actor: saga_mark_resolved(saga_id=saga, actor=actor, reason=f"resolved by {actor}"),
        )

    def _act(self, request, queryset, verb: str, action) -> None:
        actor = request.user.get_username()
        saga_ids = list(queryset.values_list("saga_id", flat=True))
        done = sum(1 for saga_id in saga_ids if action(saga_id, actor))
        skipped = len(saga_ids) - done
        if done:
            self.message_user(request, f"{done} saga(s) {verb}.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} saga(s) left as they were: not in a state this action applies to, or already done.",
                messages.WARNING,
            )
