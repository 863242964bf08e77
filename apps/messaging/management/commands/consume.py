from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.common.process import freeze_startup_heap
from apps.messaging.consumer import ConsumerSpec, ConsumerWorker
from apps.messaging.metrics import metrics_serve


class Command(BaseCommand):
    help = "Run one app's message consumer until SIGTERM (orders, inventory or payments)."

    def add_arguments(self, parser):
        parser.add_argument("consumer", choices=sorted(settings.MESSAGING_CONSUMERS))
        parser.add_argument("--prefetch", type=int, default=None)

    def handle(self, *args, consumer: str, prefetch: int | None, **options):
        if settings.EMBEDDED_MODE:
            raise CommandError("A separate consumer process needs a real broker: set CELERY_BROKER_URL.")
        worker = ConsumerWorker(ConsumerSpec.from_settings(consumer), prefetch=prefetch)
        worker.install_signal_handlers()
        metrics_serve(port=settings.METRICS_PORT)
        freeze_startup_heap()
        worker.run()
