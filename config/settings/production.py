"""Production: every endpoint but /health and /ready needs a login; secrets are mandatory."""

from django.core.exceptions import ImproperlyConfigured

from config.logging import configure_logging

from .base import *  # noqa: F403
from .base import LOG_LEVEL, SERVICE_NAME, env

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set in production.")

DEBUG = False
API_REQUIRE_AUTHENTICATION = True
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

configure_logging(service=SERVICE_NAME, log_format=env.str("LOG_FORMAT", default="json"), level=LOG_LEVEL)
