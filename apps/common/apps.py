from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "apps.common"
    label = "common"
    verbose_name = "HTTP and tracing conventions shared by every app"

    def ready(self):
        from apps.common import checks  # noqa: F401 -- registers the middleware check
