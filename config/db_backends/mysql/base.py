from django.utils.functional import cached_property
from django_prometheus.db.backends.mysql import base
from django_prometheus.db.common import ExportingCursorWrapper

DatabaseFeatures = base.DatabaseFeatures


class DatabaseWrapper(base.DatabaseWrapper):
    def create_cursor(self, name=None):
        return self._exporting_cursor_class(self.connection.cursor())

    @cached_property
    def _exporting_cursor_class(self):
        return ExportingCursorWrapper(self.CURSOR_CLASS, self.alias, self.vendor)
