from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from apps.audit.services import reconcile
from apps.common.progress import progress


class Command(BaseCommand):
    help = (
        "Check the invariants across the orders, inventory and payments databases; print every "
        "violation and exit non-zero if there is any."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--saga-age",
            type=float,
            default=300.0,
            help="Seconds a saga may stay active before it counts as stuck (default 300).",
        )
        parser.add_argument(
            "--outbox-age",
            type=float,
            default=60.0,
            help="Seconds an outbox row may wait unpublished (default 60).",
        )

    def handle(self, *args, saga_age: float, outbox_age: float, **options):
        with progress(self.stderr, description="reconciling") as on_progress:
            violations = reconcile(
                saga_age=timedelta(seconds=saga_age), outbox_age=timedelta(seconds=outbox_age), on_progress=on_progress
            )
        for violation in violations:
            self.stdout.write(str(violation))
        if violations:
            raise CommandError(f"{len(violations)} violation(s)", returncode=1)
        self.stdout.write("reconcile: no violation")
