from django.utils.functional import cached_property
from django_prometheus.db.backends.sqlite3 import base

from config.db_backends import exporting_cursor_class

DatabaseFeatures = base.DatabaseFeatures


class DatabaseWrapper(base.DatabaseWrapper):
    def create_cursor(self, name=None):
        return self.connection.cursor(factory=self._exporting_cursor_class)

    @cached_property
    def _exporting_cursor_class(self):
        return exporting_cursor_class(self.CURSOR_CLASS, self.alias, self.vendor)
