import shlex
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.access.services import DEFAULT_PREFIX, MissingPassword, access_provision


class Command(BaseCommand):
    help = (
        "Create every process's MariaDB and RabbitMQ users with only the rights it needs, and declare the broker "
        "topology. Idempotent. Run with administrator database URLs and where rabbitmqctl reaches the broker."
    )

    def add_arguments(self, parser):
        parser.add_argument("--prefix", default=DEFAULT_PREFIX, help="user names are PREFIX + process (sagas-web)")
        parser.add_argument("--vhost", default=None, help="the RabbitMQ vhost (default: MESSAGING_BROKER_URL's)")
        parser.add_argument("--database-user-host", default="%", help="the host part of the MariaDB users")
        parser.add_argument(
            "--credentials-file",
            type=Path,
            default=None,
            help="development only: read missing passwords from this file, generate the others into it (0600)",
        )
        parser.add_argument(
            "--rabbitmqctl",
            default="rabbitmqctl",
            help="the rabbitmqctl command line, e.g. 'docker compose exec -T rabbitmq rabbitmqctl'",
        )
        parser.add_argument(
            "--definitions-file",
            type=Path,
            default=None,
            help="write the broker definitions here (0644, salted hashes only) instead of importing them",
        )

    def handle(self, *args, **options):
        try:
            result = access_provision(
                prefix=options["prefix"],
                vhost=options["vhost"] or _vhost(settings.MESSAGING_BROKER_URL),
                database_user_host=options["database_user_host"],
                credentials_file=options["credentials_file"],
                rabbitmqctl=shlex.split(options["rabbitmqctl"]),
                definitions_file=options["definitions_file"],
            )
        except MissingPassword as exc:
            raise CommandError(str(exc)) from exc
        except subprocess.CalledProcessError as exc:
            raise CommandError(f"rabbitmqctl import_definitions failed: {exc.stderr.decode(errors='replace')}") from exc
        self.stdout.write(f"database users: {', '.join(result.database_users) or 'none'}")
        self.stdout.write(f"broker users: {', '.join(result.broker_users)}")
        for pending in result.pending_grants:
            self.stderr.write(f"pending until migrate_all creates the table: {pending}; run provision_access again")


def _vhost(url: str) -> str:
    """The vhost of the first URL of a ``;``-separated list (``/`` when it names none)."""
    path = urlsplit(url.split(";", 1)[0]).path
    return unquote(path[1:]) if len(path) > 1 else "/"
