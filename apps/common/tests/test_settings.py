"""Production settings fail fast without the web's secret; every settings module requires a login."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

SETUP_PRODUCTION = (
    "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings.production'; django.setup(); "
    "from django.conf import settings; "
    "api = settings.REST_FRAMEWORK; "
    "print('DEBUG', settings.DEBUG, 'KEY', settings.SECRET_KEY); "
    "print('PERMISSIONS', *api['DEFAULT_PERMISSION_CLASSES']); "
    "print('AUTHENTICATION', *api['DEFAULT_AUTHENTICATION_CLASSES'])"
)


def run_production_setup(**extra_env) -> subprocess.CompletedProcess:
    ignored = ("DJANGO_SECRET_KEY", "DJANGO_DEBUG", "SERVICE_NAME")
    env = {name: value for name, value in os.environ.items() if name not in ignored}
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "-c", SETUP_PRODUCTION],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = run_production_setup()

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_refuses_a_web_copy_without_a_secret_key():
    result = run_production_setup(SERVICE_NAME="web2")

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


@pytest.mark.parametrize("service", ["relay", "beat", "orders-consumer", "flower", "migrate"])
def test_production_gives_any_other_process_a_random_key_of_its_own(service):
    first, second = run_production_setup(SERVICE_NAME=service), run_production_setup(SERVICE_NAME=service)

    assert first.returncode == second.returncode == 0, first.stderr
    keys = {result.stdout.split("KEY ", 1)[1].split()[0] for result in (first, second)}
    assert len(keys) == 2
    assert all(len(key) >= 50 for key in keys)


def test_production_refuses_an_empty_secret_key():
    result = run_production_setup(DJANGO_SECRET_KEY="")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr


def test_production_starts_with_a_secret_key_and_requires_login():
    result = run_production_setup(DJANGO_SECRET_KEY="a-production-secret-for-the-test", DJANGO_DEBUG="true")

    assert result.returncode == 0, result.stderr
    assert "DEBUG False KEY a-production-secret-for-the-test" in result.stdout
    assert "PERMISSIONS rest_framework.permissions.IsAuthenticated\n" in result.stdout
    assert "AUTHENTICATION apps.accounts.auth.BearerTokenAuthentication" in result.stdout
    assert "BasicAuthentication" not in result.stdout


def test_production_passes_the_deploy_check_without_a_warning():
    env = {name: value for name, value in os.environ.items() if name not in ("DJANGO_DEBUG", "TEST_DB")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.production", DJANGO_SECRET_KEY=PRODUCTION_SECRET)

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr
    assert "no issues" in result.stdout


def test_production_closes_the_docs_and_the_public_metrics_and_generates_no_admin_password():
    env = {name: value for name, value in os.environ.items() if name not in ("TEST_DB", "API_DOCS_PUBLIC")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.production", DJANGO_SECRET_KEY=PRODUCTION_SECRET)
    env.pop("METRICS_PUBLIC", None)
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.API_DOCS_PUBLIC, settings.METRICS_PUBLIC, settings.ADMIN_PASSWORD_GENERATED, "
        "settings.SECURE_REDIRECT_EXEMPT)"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120
    )

    assert result.stdout.strip() == "False False False ['^health$', '^ready$']", result.stderr
    assert (settings.API_DOCS_PUBLIC, settings.METRICS_PUBLIC, settings.ADMIN_PASSWORD_GENERATED) == (True, True, True)


# Long and random enough for security.W009.
PRODUCTION_SECRET = "k7#Qw9!zR2@vX5$mT8^pL3&nB6*hJ1(dF4)sG0-yC_eU+aZ=oI"


@pytest.mark.parametrize("module", ["config.settings.dev", "config.settings.test", "config.settings.production"])
def test_every_settings_module_requires_a_login_and_takes_no_basic_auth(module):
    env = {name: value for name, value in os.environ.items() if name != "TEST_DB"}
    env.update(DJANGO_SETTINGS_MODULE=module, DJANGO_SECRET_KEY=PRODUCTION_SECRET)
    code = (
        "import django; django.setup(); from django.conf import settings; api = settings.REST_FRAMEWORK; "
        "print(api['DEFAULT_PERMISSION_CLASSES'], api['DEFAULT_AUTHENTICATION_CLASSES'], "
        "hasattr(settings, 'API_REQUIRE_AUTHENTICATION'))"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "['rest_framework.permissions.IsAuthenticated'] "
        "['apps.accounts.auth.BearerTokenAuthentication', 'rest_framework.authentication.SessionAuthentication'] "
        "False"
    )


def test_the_throttle_rates_and_the_token_lifetime_come_from_the_environment():
    env = {name: value for name, value in os.environ.items() if name != "TEST_DB"}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.dev",
        THROTTLE_LOGIN_FAILURES="5/min",
        THROTTLE_ORDERS_USER="off",
        THROTTLE_ORDERS_IP="1000/hour",
        API_TOKEN_TTL_DAYS="7",
        REDIS_URL="redis://127.0.0.1:6379/3",
    )
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'], settings.REST_KNOX['TOKEN_TTL'].days, "
        "settings.CACHES['default']['BACKEND'], settings.CACHES['default']['LOCATION'])"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "{'login_failures': '5/min', 'orders_user': None, 'orders_ip': '1000/hour'} 7 "
        "django.core.cache.backends.redis.RedisCache redis://127.0.0.1:6379/3"
    )


def test_without_a_redis_url_each_process_counts_in_local_memory():
    env = {name: value for name, value in os.environ.items() if name not in ("TEST_DB", "REDIS_URL", "CACHE_URL")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.dev")
    code = (
        "import django; django.setup(); from django.conf import settings; print(settings.CACHES['default']['BACKEND'])"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120
    )

    assert result.stdout.strip() == "django.core.cache.backends.locmem.LocMemCache", result.stderr
