from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.common.progress import progress
from apps.messaging.retention import InvalidAge, format_age, messages_purge_all, parse_age


class Command(BaseCommand):
    help = (
        "Delete dispatched outbox rows older than --older-than and inbox rows older than the longer of that "
        "and INBOX_DEDUP_WINDOW, in every domain database, in bounded batches. Undispatched rows are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", default=None, help="e.g. 7d, 12h, 30m, 3600s (default MESSAGE_RETENTION)")
        parser.add_argument("--batch-size", type=int, default=None, help="rows per DELETE (default 1000)")

    def handle(self, *args, older_than: str | None, batch_size: int | None, **options):
        batch_size = settings.MESSAGE_PURGE_BATCH_SIZE if batch_size is None else batch_size
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        try:
            age = parse_age(settings.MESSAGE_RETENTION if older_than is None else older_than)
        except InvalidAge as exc:
            raise CommandError(str(exc)) from exc
        with progress(self.stderr, description="purging messages", every=10 * batch_size) as on_progress:
            results = messages_purge_all(older_than=age, batch_size=batch_size, on_progress=on_progress)
        for alias, result in results.items():
            self.stdout.write(
                f"{alias}: deleted {result.outbox} outbox row(s) dispatched over {format_age(age)} ago, "
                f"{result.inbox} inbox row(s) received over {format_age(result.inbox_kept_for)} ago"
            )
