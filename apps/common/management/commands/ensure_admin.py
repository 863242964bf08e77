import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Make sure a superuser exists: DJANGO_SUPERUSER_USERNAME (default admin) with DJANGO_SUPERUSER_PASSWORD, "
        "or a generated password that is printed once."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "admin")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        user = User.objects.filter(username=username).first()
        if user is not None and password is None:
            self.stdout.write(f"Admin user: {username} (password unchanged; set DJANGO_SUPERUSER_PASSWORD to reset it)")
            return
        password = password or secrets.token_urlsafe(12)
        if user is None:
            User.objects.create_superuser(username=username, email="", password=password)
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
        self.stdout.write(self.style.SUCCESS(f"Admin user: {username}  password: {password}"))
