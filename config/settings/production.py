"""Production: secrets are mandatory, cookies secure, TLS assumed at the proxy, JSON only."""

import secrets

from django.core.exceptions import ImproperlyConfigured

from config.logging import configure_logging

from .base import *  # noqa: F403
from .base import LOG_LEVEL, SERVICE_NAME, env

# Only the web signs with SECRET_KEY (sessions, CSRF, the admin): it refuses to start without one.
# Every other process (relay, beat, consumers, flower, migrations) signs nothing with it and gets a
# fresh random key each start, so their Secrets hold no copy of the web's.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if SERVICE_NAME.startswith("web"):
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set in production for the web.")
    SECRET_KEY = secrets.token_urlsafe(50)

DEBUG = False
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# TLS ends at the proxy, which says so in X-Forwarded-Proto. Plain HTTP is redirected,
# except the probes and the scrape, which come from inside the cluster.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Only a header: the site joins browsers' preload lists only if someone submits it.
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=True)
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

configure_logging(service=SERVICE_NAME, log_format=env.str("LOG_FORMAT", default="json"), level=LOG_LEVEL)
