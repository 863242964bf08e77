"""The web's outbox rows are published by the request's own process, after the response is sent."""

import threading

from django.conf import settings

from apps.messaging.dispatch import AfterCommitDispatch, dispatching_after_commit
from apps.messaging.publisher import publisher_for_thread


class OutboxDispatchMiddleware:
    """Rows a request commits to an outbox are published once its response has gone out.

    The rows are held back from the relay for the grace (apps.messaging.dispatch);
    the publish, the confirms and the mark run when the server closes the
    response, after the client has its answer. On with WEB_DISPATCH_AFTER_RESPONSE
    (off by default: the relay follows the orders outbox, and a request is a sixth
    cheaper without the publish); off in the embedded mode, whose relay thread is
    woken directly, and with OUTBOX_DISPATCH_AFTER_COMMIT off.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self._local = threading.local()

    def __call__(self, request):
        dispatch = self._dispatch()
        if dispatch is None:
            return self.get_response(request)
        with dispatching_after_commit(dispatch):
            response = self.get_response(request)
        if dispatch.pending:
            response._resource_closers.append(dispatch.flush)
        return response

    def _dispatch(self) -> AfterCommitDispatch | None:
        if settings.EMBEDDED_MODE or not settings.WEB_DISPATCH_AFTER_RESPONSE:
            return None
        if not settings.OUTBOX_DISPATCH_AFTER_COMMIT:
            return None
        dispatch = getattr(self._local, "dispatch", None)
        if dispatch is None:
            # One per serving thread, built on first use (gunicorn forks its workers first).
            dispatch = AfterCommitDispatch(databases=settings.DOMAIN_DATABASES, publisher=publisher_for_thread())
            self._local.dispatch = dispatch
        return dispatch
