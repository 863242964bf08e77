from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "apps.common"
    label = "common"
    verbose_name = "HTTP and tracing conventions shared by every app"

    def ready(self):
        from django.conf import settings
        from django.core.signals import request_started
        from django.db import reset_queries

        from apps.common import checks  # noqa: F401 -- registers the middleware check

        if not settings.DEBUG:
            # Django empties every connection's query log at each request's start, walking all four
            # aliases. The log is only written under DEBUG or inside CaptureQueriesContext (which
            # disconnects this receiver itself while it captures), and it is bounded anyway.
            request_started.disconnect(reset_queries)
