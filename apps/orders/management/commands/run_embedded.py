from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from apps.messaging.embedded import EmbeddedRuntime
from apps.orders.metrics import saga_state_metrics
from apps.orders.services.periodic import saga_recover


class Command(BaseCommand):
    help = "Run the whole system in one process: web, relay, consumers and periodic jobs (embedded mode)."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--no-migrate", action="store_true")

    def handle(self, *args, addrport: str, no_migrate: bool, **options):
        if not settings.EMBEDDED_MODE:
            raise CommandError(
                "run_embedded needs the in-process broker: unset CELERY_BROKER_URL, or use make run-stack."
            )
        if not no_migrate:
            call_command("migrate_all", verbosity=0)
        call_command("ensure_admin")
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
            call_command("runserver", addrport, use_reloader=False, use_threading=True)
        finally:
            runtime.stop()
