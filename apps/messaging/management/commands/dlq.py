import argparse

from django.core.management.base import BaseCommand, CommandError

from apps.common.progress import progress
from apps.messaging.dlq import (
    UnknownQueue,
    dlq_broker_in_process,
    dlq_depths,
    dlq_peek,
    dlq_purge,
    dlq_redrive,
    dlq_resolve,
)

BODY_PREVIEW_CHARS = 200
# Where make run serves its admin by default (ADDRPORT changes it).
EMBEDDED_DLQ_PAGE = "http://127.0.0.1:8000/admin/messaging/deadletterqueue/"


class Command(BaseCommand):
    help = "Inspect and act on the dead-letter queues over AMQP: list, show, redrive, purge."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("list", help="every DLQ and how many messages it holds")
        show = actions.add_parser("show", help="print messages without taking them off the queue")
        show.add_argument("queue", help="e.g. inventory.commands or inventory.commands.dlq")
        show.add_argument("--limit", type=_positive, default=10)
        redrive = actions.add_parser("redrive", help="send messages back to the exchange they were first sent to")
        redrive.add_argument("queue")
        redrive.add_argument("--limit", type=_positive, default=None, help="at most this many (default all)")
        redrive.add_argument("--message-id", default=None, help="only the message with this id")
        purge = actions.add_parser("purge", help="delete every message of a DLQ")
        purge.add_argument("queue")
        purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args, action: str, **options):
        try:
            if options.get("queue"):
                dlq_resolve(queue=options["queue"])
        except UnknownQueue as exc:
            raise CommandError(str(exc)) from exc
        if dlq_broker_in_process():
            # This process would see its own, empty, in-process broker, not the one make run holds.
            raise CommandError(
                "the embedded broker (memory://) lives inside the `make run` process and no other process can "
                f"reach it: use the admin's dead-letter page there ({EMBEDDED_DLQ_PAGE}), "
                "or point CELERY_BROKER_URL (or DLQ_BROKER_URL) at a RabbitMQ"
            )
        getattr(self, f"_{action}")(**options)

    def _list(self, **options):
        depths = dlq_depths()
        width = max(len(depth.queue) for depth in depths)
        self.stdout.write(f"{'queue':<{width}}  messages")
        for depth in depths:
            count = "missing (no consumer has declared it yet)" if depth.messages is None else depth.messages
            self.stdout.write(f"{depth.queue:<{width}}  {count}")

    def _show(self, *, queue: str, limit: int, **options):
        letters = dlq_peek(queue=queue, limit=limit)
        if not letters:
            self.stdout.write(f"{dlq_resolve(queue=queue).dlq_name} is empty")
            return
        for number, letter in enumerate(letters, 1):
            body = letter.body.decode("utf-8", errors="replace")
            if len(body) > BODY_PREVIEW_CHARS:
                body = body[:BODY_PREVIEW_CHARS] + "…"
            self.stdout.write(
                f"#{number}\n"
                f"  message_id              {letter.message_id}\n"
                f"  routing_key             {letter.routing_key}\n"
                f"  x-dead-letter-reason    {letter.reason}\n"
                f"  x-original-exchange     {_or_dash(letter.original_exchange)}\n"
                f"  x-original-routing-key  {_or_dash(letter.original_routing_key)}\n"
                f"  x-retry-count           {_or_dash(letter.retry_count)}\n"
                f"  body                    {body}"
            )
        self.stdout.write(f"{len(letters)} message(s) shown, none taken off the queue")

    def _redrive(self, *, queue: str, limit: int | None, message_id: str | None, **options):
        with progress(self.stderr, description=f"redriving {queue}", every=100) as on_progress:
            result = dlq_redrive(queue=queue, limit=limit, message_id=message_id, on_progress=on_progress)
        for failed_id, reason in result.failed.items():
            self.stderr.write(f"kept {failed_id} in the DLQ: {reason}")
        self.stdout.write(f"redrove {len(result.redriven)} message(s)")
        if result.failed:
            raise CommandError(f"{len(result.failed)} message(s) could not be redriven and stay in the DLQ")
        if message_id is not None and not result.redriven:
            raise CommandError(f"no message {message_id} in {dlq_resolve(queue=queue).dlq_name}")

    def _purge(self, *, queue: str, yes: bool, **options):
        dlq_name = dlq_resolve(queue=queue).dlq_name
        if not yes:
            try:
                answer = input(f"Delete every message in {dlq_name}? This cannot be undone. [y/N] ")
            except EOFError:
                answer = ""
            if answer.strip().lower() not in ("y", "yes"):
                self.stdout.write("nothing purged")
                return
        purged = dlq_purge(queue=queue)
        self.stdout.write(f"purged {purged} message(s) from {dlq_name}")


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return number


def _or_dash(value) -> str:
    return "-" if value is None else str(value)
