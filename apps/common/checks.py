"""System checks: the admin's and the deploy check's browser middleware, run by BrowserMiddleware, must be there."""

from django.conf import settings
from django.core.checks import Error, register

REQUIRED = {
    "django.contrib.sessions.middleware.SessionMiddleware": "the admin needs it",
    "django.contrib.auth.middleware.AuthenticationMiddleware": "the admin needs it",
    "django.contrib.messages.middleware.MessageMiddleware": "the admin needs it",
    "django.middleware.csrf.CsrfViewMiddleware": "forms posted with a session must be checked",
    "django.middleware.clickjacking.XFrameOptionsMiddleware": "pages must not be framed",
}


@register()
def check_browser_middleware(app_configs, **kwargs) -> list[Error]:
    """What admin.E408-E410 and security.W002-W003 check in MIDDLEWARE, checked where BrowserMiddleware runs it."""
    if "apps.common.middleware.BrowserMiddleware" not in settings.MIDDLEWARE:
        return [Error("MIDDLEWARE must hold apps.common.middleware.BrowserMiddleware", id="common.E001")]
    return [
        Error(f"BROWSER_MIDDLEWARE must hold {path}: {why}", id="common.E001")
        for path, why in REQUIRED.items()
        if path not in settings.BROWSER_MIDDLEWARE
    ]
