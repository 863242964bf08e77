import dataclasses
import uuid
from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from apps.common.admin import ReadOnlyAdmin, admin_link
from apps.orders.models import Order, SagaState
from apps.orders.selectors import (
    NEEDS_PERSON_TRIAGE,
    Triage,
    order_sagas,
    saga_history,
    saga_needs_person_count,
    saga_triaged,
    saga_with_triage,
)
from apps.orders.services.operator import (
    SagaNotFound,
    saga_force_compensation,
    saga_mark_resolved,
    saga_operator_actions,
    saga_retry_step,
)

# The other apps' admin pages are reached by URL name and id only: no model of theirs is imported.
PAYMENTS_CHANGELIST = "admin:payments_payment_changelist"
INVENTORY_LOG_CHANGELIST = "admin:inventory_inventorylog_changelist"


def saga_url(saga_id) -> str:
    return reverse("admin:orders_sagastate_change", args=[saga_id])


def order_links(order_id: int) -> str:
    """The order's payment and inventory log entries, in their own apps' admin."""
    return format_html(
        "{} · {}",
        admin_link(PAYMENTS_CHANGELIST, "payment", order_id=order_id),
        admin_link(INVENTORY_LOG_CHANGELIST, "inventory log entries", order_id=order_id),
    )


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("id", "user_id", "products", "total_amount", "currency", "status", "created_at")
    readonly_fields = ("order_lines", "sagas", "elsewhere")

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
                (saga_url(saga.saga_id), saga.saga_type, saga.saga_id, saga.status, saga.current_step)
                for saga in order_sagas(order_id=order.pk)
            ),
        )

    @admin.display(description="payment and stock")
    def elsewhere(self, order: Order):
        return order_links(order.pk)

    list_filter = ("status",)
    search_fields = ("=id", "=user_id", "=lines__product_id")
    date_hierarchy = "created_at"


class NeedsPersonFilter(admin.SimpleListFilter):
    """Sagas a support person must look at (selectors.NEEDS_PERSON), all of them or by reason."""

    title = "needs a person"
    parameter_name = "needs_person"

    def lookups(self, request, model_admin):
        return [("yes", "Needs a person (any reason)"), *((t.value, t.label) for t in NEEDS_PERSON_TRIAGE)]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return saga_triaged(queryset, triage="needs_person")
        if self.value() in NEEDS_PERSON_TRIAGE:
            return saga_triaged(queryset, triage=self.value())
        return queryset


class OutcomeFilter(admin.SimpleListFilter):
    """How a saga that needs no one ended (or that it is still running): business outcomes."""

    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return [(t.value, t.label) for t in Triage if t not in NEEDS_PERSON_TRIAGE]

    def queryset(self, request, queryset):
        if self.value() in {value for value, _ in self.lookup_choices}:
            return saga_triaged(queryset, triage=self.value())
        return queryset


class OperatorNoteForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        max_length=1000,
        help_text="Why, and what you did or checked. It goes into each saga's timeline with your username.",
    )


@dataclasses.dataclass(frozen=True)
class OperatorAction:
    label: str
    done: str
    # Where it applies, as the refusal says it.
    applies_to: str
    # (saga_id, actor, note) -> whether the saga changed
    run: Callable[[uuid.UUID, str, str], bool]
    # Asks first, with a required note.
    confirm: bool


OPERATOR_ACTIONS = {
    "retry_current_step": OperatorAction(
        label="Retry current step",
        done="retried",
        applies_to="a saga in flight (IN_PROGRESS or COMPENSATING)",
        run=lambda saga_id, actor, note: saga_retry_step(saga_id=saga_id, actor=actor, note=note),
        confirm=False,
    ),
    "force_compensation": OperatorAction(
        label="Force compensation",
        done="sent to compensation",
        applies_to="a saga IN_PROGRESS at a step that can be undone (reserving or paying)",
        run=lambda saga_id, actor, note: saga_force_compensation(saga_id=saga_id, actor=actor, note=note),
        confirm=True,
    ),
    "mark_resolved": OperatorAction(
        label="Mark resolved",
        done="marked resolved",
        applies_to="a FAILED saga that waits for a person (a compensation or a refund that failed)",
        run=lambda saga_id, actor, note: saga_mark_resolved(saga_id=saga_id, actor=actor, note=note),
        confirm=True,
    ),
}


class SagaChangeList(ChangeList):
    def url_for_result(self, result):
        # A saga's page is addressed by its saga id, the id every log line and message carries.
        return saga_url(result.saga_id)


@admin.register(SagaState)
class SagaStateAdmin(ReadOnlyAdmin):
    """Sagas, their triage, their timelines, and the three operator actions (each recorded in the saga's history).

    A saga's page opens by its saga id (``/admin/orders/sagastate/<saga_id>/change/``) or its row id.
    """

    list_display = (
        "saga_id",
        "saga_type",
        "order",
        "triage",
        "status",
        "current_step",
        "deadline_at",
        "updated_at",
    )
    list_filter = (NeedsPersonFilter, OutcomeFilter, "saga_type", "status", "current_step")
    search_fields = ("=saga_id", "=order_id", "=trace_id")
    date_hierarchy = "created_at"
    actions = tuple(OPERATOR_ACTIONS)
    # Each needs orders.operate_saga: without it the actions and the change page's buttons are not offered.
    operator_actions = frozenset(actions)
    fields = (
        "saga_id",
        "saga_type",
        "order",
        "elsewhere",
        "triage",
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
        return saga_with_triage(super().get_queryset(request))

    def get_changelist(self, request, **kwargs):
        return SagaChangeList

    def get_object(self, request, object_id, from_field=None):
        if from_field is None:
            try:
                saga_id = uuid.UUID(object_id)
            except ValueError:
                pass
            else:
                return self.get_queryset(request).filter(saga_id=saga_id).first()
        return super().get_object(request, object_id, from_field)

    def changelist_view(self, request, extra_context=None):
        if (
            request.method == "POST"
            and request.POST.get("action") in self.operator_actions
            and not self.has_operate_saga_permission(request)
        ):
            # Django would ignore an action it does not offer and show the list; say no instead.
            raise PermissionDenied
        waiting = saga_needs_person_count() if request.method == "GET" else 0
        if waiting:
            self.message_user(
                request,
                format_html(
                    '{} saga(s) need a person (failed, stuck or refund failing). <a href="?needs_person=yes">Show'
                    " them</a>.",
                    waiting,
                ),
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        saga = self.get_object(request, object_id)
        offered = saga_operator_actions(saga) if saga is not None and self.has_operate_saga_permission(request) else []
        extra_context = {
            **(extra_context or {}),
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "saga_actions": [(name, OPERATOR_ACTIONS[name].label) for name in offered],
        }
        return super().change_view(request, object_id, form_url, extra_context)

    # --- columns and fields -----------------------------------------------------------------
    @admin.display(description="triage", ordering="triage")
    def triage(self, saga: SagaState):
        triage = Triage(saga.triage)
        if triage in NEEDS_PERSON_TRIAGE:
            detail = ""
            if triage == Triage.STUCK:
                detail = f" {int((timezone.now() - saga.deadline_at).total_seconds())}s past deadline"
            elif triage == Triage.REFUND_FAILING:
                detail = f" {saga.step_attempts} refusal(s) so far"
            return format_html(
                '<strong class="saga-badge needs-person" title="{}" style="color:#fff;background:#ba2121;'
                'padding:2px 6px;border-radius:3px">{}</strong>{}',
                triage.label,
                triage.name.replace("_", " "),
                detail,
            )
        return format_html(
            '<span class="saga-badge outcome" style="background:var(--darkened-bg);padding:2px 6px;'
            'border-radius:3px">{}</span>',
            triage.label,
        )

    @admin.display(description="order", ordering="order_id")
    def order(self, saga: SagaState):
        return admin_link("admin:orders_order_change", f"order {saga.order_id}", args=[saga.order_id])

    @admin.display(description="payment and stock")
    def elsewhere(self, saga: SagaState):
        return format_html(
            "{} · {}",
            order_links(saga.order_id),
            admin_link("admin:orders_sagastate_changelist", "the order's sagas", order_id=saga.order_id),
        )

    @admin.display(description="timeline")
    def timeline(self, saga: SagaState):
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    entry.at.isoformat(timespec="milliseconds"),
                    entry.event,
                    f"{entry.from_status}/{entry.from_step}" if entry.from_status else "—",
                    f"{entry.to_status}/{entry.to_step}",
                    entry.reason or "",
                    entry.actor or "",
                    entry.note or "",
                    entry.message_id or "",
                )
                for entry in saga_history(saga=saga)
            ),
        )
        return format_html(
            '<table class="saga-timeline"><thead><tr><th>at</th><th>event</th><th>from → to</th>'
            "<th>reason</th><th>actor</th><th>note</th><th>message id</th></tr></thead><tbody>{}</tbody></table>",
            rows or format_html('<tr><td colspan="7">{}</td></tr>', "no history recorded"),
        )

    # --- operator actions -------------------------------------------------------------------
    def has_operate_saga_permission(self, request) -> bool:
        return request.user.has_perm("orders.operate_saga")

    @admin.action(description="Retry the current step (re-send its command)", permissions=["operate_saga"])
    def retry_current_step(self, request, queryset):
        return self._operate(request, queryset, "retry_current_step")

    @admin.action(description="Force compensation (asks for a note)", permissions=["operate_saga"])
    def force_compensation(self, request, queryset):
        return self._operate(request, queryset, "force_compensation")

    @admin.action(
        description="Mark resolved, after settling it by hand (asks for a note)", permissions=["operate_saga"]
    )
    def mark_resolved(self, request, queryset):
        return self._operate(request, queryset, "mark_resolved")

    def _operate(self, request, queryset, name: str):
        """Refuse the selected sagas the action does not apply to; confirm with a note if it asks; then act."""
        action = OPERATOR_ACTIONS[name]
        sagas = list(queryset.order_by("id"))
        applies = {saga.pk: name in saga_operator_actions(saga) for saga in sagas}
        applicable = [saga for saga in sagas if applies[saga.pk]]
        refused = [saga for saga in sagas if not applies[saga.pk]]
        if not applicable:
            self._refuse(request, action, refused)
            return self._back(request)
        if not action.confirm:
            self._act(request, action, applicable, note="")
            self._refuse(request, action, refused)
            return self._back(request)
        form = OperatorNoteForm(request.POST if request.POST.get("post") == "yes" else None)
        if form.is_valid():
            self._act(request, action, applicable, note=form.cleaned_data["note"])
            self._refuse(request, action, refused)
            return self._back(request)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{action.label}: are you sure?",
            "opts": self.opts,
            "action": name,
            "action_label": action.label,
            "applies_to": action.applies_to,
            "sagas": applicable,
            "refused": refused,
            "form": form,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "from_saga": request.POST.get("_from_saga", ""),
            "back_url": self._back_url(request),
        }
        return TemplateResponse(request, "admin/orders/sagastate/operator_action_confirmation.html", context)

    def _act(self, request, action: OperatorAction, sagas: list[SagaState], *, note: str) -> None:
        actor = request.user.get_username()
        done = 0
        for saga in sagas:
            try:
                done += bool(action.run(saga.saga_id, actor, note))
            except SagaNotFound:
                continue
        if done:
            self.message_user(request, f"{done} saga(s) {action.done}.", messages.SUCCESS)
        if len(sagas) - done:
            self.message_user(
                request,
                f"{len(sagas) - done} saga(s) left as they were: already done, or moved on meanwhile.",
                messages.WARNING,
            )

    def _refuse(self, request, action: OperatorAction, refused: list[SagaState]) -> None:
        if not refused:
            return
        shown = ", ".join(f"{saga.saga_id} ({saga.status}/{saga.current_step})" for saga in refused[:10])
        more = f" and {len(refused) - 10} more" if len(refused) > 10 else ""
        self.message_user(
            request,
            f"{action.label} was not applied to {len(refused)} saga(s): {shown}{more}. "
            f"It applies only to {action.applies_to}.",
            messages.ERROR,
        )

    def _back_url(self, request) -> str:
        from_saga = request.POST.get("_from_saga", "")
        try:
            return saga_url(uuid.UUID(from_saga))
        except ValueError:
            return request.get_full_path()

    def _back(self, request):
        """Back to the saga's page when the action came from there; to the list (Django's default) otherwise."""
        if request.POST.get("_from_saga"):
            return HttpResponseRedirect(self._back_url(request))
        return None
