import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Make sure a superuser exists: DJANGO_SUPERUSER_USERNAME (default admin) with DJANGO_SUPERUSER_PASSWORD. "
        "Without it, development generates a password and prints it once; production refuses "
        "(ADMIN_PASSWORD_GENERATED), so that no password reaches a log. --reset generates a new one for an "
        "admin that exists (make admin-password), under the same rule."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset",
            action="store_true",
            help="give an existing admin a new generated password (development only), and print it",
        )

    def handle(self, *args, reset: bool = False, **options):
        User = get_user_model()
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "admin")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        user = User.objects.filter(username=username).first()
        if user is not None and password is None and not reset:
            self.stdout.write(f"Admin user: {username} (password unchanged; make admin-password prints a new one)")
            return
        if password is None and not settings.ADMIN_PASSWORD_GENERATED:
            raise CommandError(f"Set DJANGO_SUPERUSER_PASSWORD to create or reset the admin user {username}.")
        generated = password is None
        password = password or secrets.token_urlsafe(12)
        if user is None:
            User.objects.create_superuser(username=username, email="", password=password)
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
        if generated:
            self.stdout.write(self.style.SUCCESS(f"Admin user: {username}  password: {password}"))
        else:
            self.stdout.write(self.style.SUCCESS(f"Admin user: {username}  password: from DJANGO_SUPERUSER_PASSWORD"))
