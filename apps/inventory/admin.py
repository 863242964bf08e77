from django import forms
from django.contrib import admin, messages

from apps.common.admin import ReadOnlyAdmin, admin_link
from apps.inventory.models import DEFAULT_CURRENCY, Inventory, InventoryLog
from apps.inventory.services import VersionConflict, inventory_set_available


class InventoryForm(forms.ModelForm):
    """Carries the version the operator saw, so a save over a newer change is refused."""

    seen_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Inventory
        fields = ["product_id", "name", "unit_price", "currency", "available_qty"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A user with only the view permission gets the form without its editable fields.
        if "currency" in self.fields:
            # Left empty, the currency stays what it was (USD for a new product) rather than failing the stock edit.
            self.fields["currency"].required = False
        if self.instance.pk:
            self.fields["seen_version"].initial = self.instance.version
            if "product_id" in self.fields:
                self.fields["product_id"].disabled = True

    def clean_currency(self):
        return self.cleaned_data["currency"] or self.instance.currency or DEFAULT_CURRENCY

    def clean(self):
        cleaned = super().clean()
        seen = cleaned.get("seen_version")
        if self.instance.pk and seen is not None:
            current = Inventory.objects.filter(pk=self.instance.pk).values_list("version", flat=True).first()
            if current != seen:
                raise forms.ValidationError(
                    "This product changed while you were editing it (reservations move stock). Reload and retry."
                )
        return cleaned


@admin.register(Inventory)
class InventoryAdmin(admin.ModelAdmin):
    form = InventoryForm
    list_display = (
        "product_id",
        "name",
        "unit_price",
        "currency",
        "available_qty",
        "reserved_qty",
        "sold_qty",
        "version",
        "updated_at",
    )
    search_fields = ("=product_id", "name")
    readonly_fields = ("reserved_qty", "sold_qty", "version", "created_at", "updated_at")

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # ModelAdmin wraps a POST in atomic(); inventory_set_available owns a durable
        # transaction and cannot nest in it. The admin log goes to "default" anyway.
        return self._changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            return
        try:
            inventory_set_available(
                product_id=obj.product_id,
                available_qty=form.cleaned_data["available_qty"],
                expected_version=form.cleaned_data.get("seen_version"),
                name=form.cleaned_data["name"],
                unit_price=form.cleaned_data["unit_price"],
                currency=form.cleaned_data["currency"],
            )
        except VersionConflict:
            self.message_user(request, "Not saved: the product changed meanwhile. Reload and retry.", messages.ERROR)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(InventoryLog)
class InventoryLogAdmin(ReadOnlyAdmin):
    """Each decision on an order's stock (a RESERVE row is its reservation), linked to the order and its sagas by id."""

    list_display = (
        "order_id",
        "product_id",
        "action",
        "outcome",
        "quantity",
        "reason",
        "created_at",
        "order",
        "sagas",
    )
    list_filter = ("action", "outcome")
    search_fields = ("=order_id", "=product_id")
    readonly_fields = ("order", "sagas")

    @admin.display(description="order page")
    def order(self, entry: InventoryLog):
        return admin_link("admin:orders_order_change", f"order {entry.order_id}", args=[entry.order_id])

    @admin.display(description="sagas")
    def sagas(self, entry: InventoryLog):
        # The log names no saga (its guard is per order and action): the order's sagas, one click from each.
        return admin_link("admin:orders_sagastate_changelist", "the order's sagas", order_id=entry.order_id)
