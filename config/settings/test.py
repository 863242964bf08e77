"""Tests: SQLite by default; ``TEST_DB=mariadb`` puts every alias on the MariaDB server.

Test database names carry ``TEST_RUN_ID`` so each run gets fresh databases and
two runs on one server never share one.
"""

from .dev import *  # noqa: F403
from .dev import DATABASE_URL_VARIABLES, DATABASES, database_config, env

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
PAYMENT_FAILURE_RATE = 0.0

if env.str("TEST_DB", default="sqlite") == "mariadb":
    import os

    server = env.str("TEST_MARIADB_URL", default="mysql://root@127.0.0.1:3306")
    run_id = env.str("TEST_RUN_ID", default="local")
    for alias, variable in DATABASE_URL_VARIABLES.items():
        os.environ[variable] = f"{server}/sagas_{alias}"
        DATABASES[alias] = database_config(alias)
        DATABASES[alias]["TEST"] = {"NAME": f"test_{run_id}_{alias}", "CHARSET": "utf8mb4"}

# The domain databases do not depend on ``default``: a test may ask for just one of them.
for test_settings in DATABASES.values():
    test_settings.setdefault("TEST", {})["DEPENDENCIES"] = []

# Static files come from the app finders in tests; no collectstatic directory needed.
STATIC_ROOT = None

# Each test starts with empty throttle counters (conftest clears this cache): never a shared Redis,
# whatever REDIS_URL the shell has. Tests of the Redis cache set their own, with their own key prefix.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Nothing is recorded unless a test asks for it (apps.common.tracing.tracing_export_to), whatever the shell says.
OTEL_TRACES_EXPORTER = "none"
