from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "apps.common"
    label = "common"
    verbose_name = "HTTP and tracing conventions shared by every app"

    def ready(self):
        from django.conf import settings
        from django.core.signals import request_started
        from django.db import close_old_connections, reset_queries

        from apps.common import checks  # noqa: F401 -- registers the middleware check
        from apps.common.tracing import tracing_configure

        tracing_configure(
            service=settings.OTEL_SERVICE_NAME,
            exporter=settings.OTEL_TRACES_EXPORTER,
            file_path=settings.OTEL_TRACES_FILE,
        )

        if not settings.DEBUG:
            # Django empties every connection's query log at each request's start, walking all four
            # aliases. The log is only written under DEBUG or inside CaptureQueriesContext (which
            # disconnects this receiver itself while it captures), and it is bounded anyway.
            request_started.disconnect(reset_queries)
        if all(database.get("CONN_HEALTH_CHECKS") for database in settings.DATABASES.values()):
            # Django also checks every connection at each request's start. The previous request's end
            # has just done the same (request_finished: broken or past CONN_MAX_AGE is closed), and a
            # connection that broke since then is pinged and replaced before its first statement.
            # Without health checks, the start-of-request check stays.
            request_started.disconnect(close_old_connections)
