"""Send each domain app to its own database; keep everything else on ``default``.

The messaging app (outbox, inbox) has a table in every domain database and is
always addressed with an explicit ``using=``; the router only decides where its
tables are migrated.
"""

from django.conf import settings

DOMAIN_APPS = {"orders": "orders", "inventory": "inventory", "payments": "payments"}
MESSAGING_APP = "messaging"


class AppDatabaseRouter:
    def _alias(self, model) -> str | None:
        label = model._meta.app_label
        if label == MESSAGING_APP:
            return None
        return DOMAIN_APPS.get(label, "default")

    def db_for_read(self, model, **hints):
        return self._alias(model)

    def db_for_write(self, model, **hints):
        return self._alias(model)

    def allow_relation(self, obj1, obj2, **hints):
        return obj1._state.db == obj2._state.db

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if app_label == MESSAGING_APP:
            return db in settings.DOMAIN_DATABASES
        return db == DOMAIN_APPS.get(app_label, "default")
