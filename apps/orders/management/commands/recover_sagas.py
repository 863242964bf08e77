from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.common.progress import progress
from apps.orders.services.periodic import saga_expire_deadlines, saga_recover


class Command(BaseCommand):
    help = (
        "Compensate sagas whose forward step passed its deadline, then re-send the current step's "
        "command of every saga idle in IN_PROGRESS or COMPENSATING."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=float,
            default=None,
            help="Seconds a saga must have been idle (default SAGA_RECOVERY_AGE).",
        )
        parser.add_argument("--limit", type=int, default=10_000)

    def handle(self, *args, older_than: float | None, limit: int, **options):
        age = settings.SAGA_RECOVERY_AGE if older_than is None else older_than
        with progress(self.stderr, description="sagas past their deadline", every=100) as on_progress:
            expired = saga_expire_deadlines(limit=limit, on_progress=on_progress)
        with progress(self.stderr, description="idle sagas", every=100) as on_progress:
            resent = saga_recover(older_than=timedelta(seconds=age), limit=limit, on_progress=on_progress)
        self.stdout.write(f"compensated {expired} saga(s) past their step deadline")
        self.stdout.write(f"re-sent {resent} saga step command(s)")
