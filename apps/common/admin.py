from urllib.parse import urlencode

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html


def admin_link(url_name: str, text, *, args=(), **filters) -> str:
    """A link to an admin page by URL name: another app's is reached by ids, never by a join across databases.

    ``args`` for a change page (``"admin:orders_order_change", args=[order_id]``), ``filters``
    for a filtered changelist (``order_id=5`` becomes ``?order_id=5``).
    """
    url = reverse(url_name, args=args)
    if filters:
        url = f"{url}?{urlencode(filters)}"
    return format_html('<a href="{}">{}</a>', url, text)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown to operators, changed only by the saga: editing would break its invariants."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
