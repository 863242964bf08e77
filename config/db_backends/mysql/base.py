from django.utils.functional import cached_property
from django_prometheus.db.backends.mysql import base

from config.db_backends import exporting_cursor_class

DatabaseFeatures = base.DatabaseFeatures


class DatabaseWrapper(base.DatabaseWrapper):
    """django-prometheus's MySQL backend, with a cheaper cursor wrapper and cheaper transactions.

    Django opens a transaction with ``SET autocommit=0`` and, after COMMIT, closes
    it with ``SET autocommit=1``: three round trips of bookkeeping. Here the server
    session stays in autocommit mode and a transaction is ``START TRANSACTION`` ...
    COMMIT/ROLLBACK: two. The semantics are the same, including the implicit commit
    of switching autocommit back on without one.
    """

    _transaction_open = False

    def get_connection_params(self):
        # The session starts (and stays) in autocommit mode; transactions are explicit.
        return {**super().get_connection_params(), "autocommit": True}

    def _set_autocommit(self, autocommit):
        with self.wrap_database_errors:
            if not autocommit:
                self.connection.query(b"START TRANSACTION")
                self._transaction_open = True
            elif self._transaction_open:
                # What SET autocommit=1 does inside a transaction.
                self.connection.commit()
                self._transaction_open = False

    def _commit(self):
        try:
            super()._commit()
        finally:
            self._transaction_open = False

    def _rollback(self):
        try:
            super()._rollback()
        finally:
            self._transaction_open = False

    def _close(self):
        self._transaction_open = False
        super()._close()

    def create_cursor(self, name=None):
        return self._exporting_cursor_class(self.connection.cursor())

    @cached_property
    def _exporting_cursor_class(self):
        return exporting_cursor_class(self.CURSOR_CLASS, self.alias, self.vendor)
