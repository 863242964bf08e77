import errno
import socket
from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.core.management.commands.runserver import naiveip_re

from apps.messaging.embedded import EmbeddedRuntime
from apps.orders.metrics import saga_state_metrics
from apps.orders.services.periodic import saga_recover


class Command(BaseCommand):
    help = "Run the whole system in one process: web, relay, consumers and periodic jobs (embedded mode)."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--no-migrate", action="store_true")
        parser.add_argument(
            "--check-port",
            action="store_true",
            help="only check that addrport is free, then exit (make run's first step)",
        )

    def handle(self, *args, addrport: str, no_migrate: bool, check_port: bool, **options):
        if not settings.EMBEDDED_MODE:
            raise CommandError(
                "run_embedded needs the in-process broker: unset CELERY_BROKER_URL, or use make run-stack."
            )
        # Before anything starts: runserver would find the port taken only after the consumers had started.
        refuse_a_taken_port(addrport)
        if check_port:
            return
        if not no_migrate:
            call_command("migrate_all", verbosity=0)
        # In-process messages died with the last process: re-send every active saga's step now.
        resent = saga_recover(older_than=timedelta(0))
        if resent:
            self.stdout.write(f"Recovery re-sent {resent} saga step(s) left in flight by the last run.")
        runtime = EmbeddedRuntime(
            periodic_jobs={
                "recovery": (settings.SAGA_RECOVERY_INTERVAL, "apps.orders.tasks.recover_sagas", {}),
                "deadlines": (settings.SAGA_DEADLINE_CHECK_INTERVAL, "apps.orders.tasks.expire_saga_deadlines", {}),
            },
            state_metrics=[saga_state_metrics],
        )
        runtime.start()
        try:
            # Last before serving, so a generated password is not lost among the start-up lines.
            call_command("ensure_admin")
            call_command("runserver", addrport, use_reloader=False, use_threading=True)
        finally:
            runtime.stop()


def refuse_a_taken_port(addrport: str) -> None:
    """Raise CommandError, in one line naming ADDRPORT, unless runserver could bind ``addrport``."""
    match = naiveip_re.fullmatch(addrport)
    if match is None:
        raise CommandError(f"ADDRPORT={addrport} is not a port or an address:port such as 127.0.0.1:8000")
    host, port = (match["addr"] or "127.0.0.1").strip("[]"), int(match["port"])
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As runserver binds: a port whose last connections linger in TIME_WAIT is free to it.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            taken = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be served ({exc.strerror})"
            raise CommandError(
                f"{host}:{port} {taken}: free it, or run on another address, "
                f"e.g. ADDRPORT=127.0.0.1:{port + 1} make run"
            ) from None
