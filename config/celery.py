"""The Celery app: relay tasks, the beat schedule, Flower."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

app = Celery("sagas")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
