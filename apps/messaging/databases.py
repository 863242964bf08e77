"""Creating the databases themselves, which migrate cannot do."""

from pathlib import Path

from django.db import connections


def database_create_missing(*, alias: str) -> bool:
    """Create the database behind ``alias`` if it does not exist; return whether it did not.

    MySQL/MariaDB: ``CREATE DATABASE IF NOT EXISTS`` over a connection without a
    default database. SQLite: make the file's directory.
    """
    connection = connections[alias]
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        path = Path(settings_dict["NAME"])
        existed = path.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        return not existed
    if connection.vendor != "mysql":
        return False
    import MySQLdb

    kwargs = {"host": settings_dict["HOST"] or "localhost", "user": settings_dict["USER"]}
    if settings_dict["PASSWORD"]:
        kwargs["password"] = settings_dict["PASSWORD"]
    if settings_dict["PORT"]:
        kwargs["port"] = int(settings_dict["PORT"])
    server = MySQLdb.connect(**kwargs)
    try:
        cursor = server.cursor()
        name = settings_dict["NAME"].replace("`", "``")
        existed = cursor.execute("SHOW DATABASES LIKE %s", [settings_dict["NAME"]])
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        return not existed
    finally:
        server.close()
