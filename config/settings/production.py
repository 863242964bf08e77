"""Production: secrets are mandatory, cookies secure, TLS assumed at the proxy, JSON only."""

import secrets

from django.core.exceptions import ImproperlyConfigured

from config.logging import configure_logging

from .base import *  # noqa: F403
from .base import LOG_LEVEL, SERVICE_NAME, env, signing_keys

# Only the web signs with SECRET_KEY (sessions, CSRF, the admin): it refuses to start without one.
# Every other process (relay, beat, consumers, flower, migrations) signs nothing with it and gets a
# fresh random key each start, so their Secrets hold no copy of the web's.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if SERVICE_NAME.startswith("web"):
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set in production for the web.")
    SECRET_KEY = secrets.token_urlsafe(50)
# Each process is given the keys of the routes it signs or verifies, and no others.
MESSAGE_SIGNING_KEYS = signing_keys(derive_from=None)

DEBUG = False
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# TLS ends at the proxy, which says so in X-Forwarded-Proto. Plain HTTP is redirected, except
# the probes, which come from inside the cluster and say only "ok" or "ready". Prometheus scrapes
# METRICS_PORT, never the public port, which has no /metrics (METRICS_PUBLIC off).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Only a header: the site joins browsers' preload lists only if someone submits it.
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=True)
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=False)
METRICS_PUBLIC = env.bool("METRICS_PUBLIC", default=False)
# A process's output is its log: ensure_admin takes DJANGO_SUPERUSER_PASSWORD and never prints one.
ADMIN_PASSWORD_GENERATED = False
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

configure_logging(service=SERVICE_NAME, log_format=env.str("LOG_FORMAT", default="json"), level=LOG_LEVEL)
