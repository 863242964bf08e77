from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections

from apps.messaging.databases import database_create_missing


class Command(BaseCommand):
    help = "Create any missing MySQL/MariaDB database, then migrate every alias. Idempotent."

    def handle(self, *args, **options):
        for alias in settings.DATABASES:
            created = database_create_missing(alias=alias)
            if created:
                self.stdout.write(f"created database {connections[alias].settings_dict['NAME']} for {alias}")
            call_command("migrate", database=alias, interactive=False, verbosity=options["verbosity"])
