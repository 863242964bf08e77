"""Production settings fail fast without their secret and lock the API down when they start."""

import os
import subprocess
import sys

from django.conf import settings

SETUP_PRODUCTION = (
    "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings.production'; django.setup(); "
    "from django.conf import settings; "
    "print('DEBUG', settings.DEBUG, 'AUTH', settings.API_REQUIRE_AUTHENTICATION, 'KEY', settings.SECRET_KEY)"
)


def run_production_setup(**extra_env) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if name not in ("DJANGO_SECRET_KEY", "DJANGO_DEBUG")}
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


def test_production_refuses_an_empty_secret_key():
    result = run_production_setup(DJANGO_SECRET_KEY="")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr


def test_production_starts_with_a_secret_key_and_requires_login():
    result = run_production_setup(DJANGO_SECRET_KEY="a-production-secret-for-the-test", DJANGO_DEBUG="true")

    assert result.returncode == 0, result.stderr
    assert "DEBUG False AUTH True KEY a-production-secret-for-the-test" in result.stdout


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


# Long and random enough for security.W009.
PRODUCTION_SECRET = "k7#Qw9!zR2@vX5$mT8^pL3&nB6*hJ1(dF4)sG0-yC_eU+aZ=oI"
