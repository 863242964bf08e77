from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown to operators, changed only by the saga: editing would break its invariants."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
