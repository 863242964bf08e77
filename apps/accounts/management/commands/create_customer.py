from django.core.management.base import BaseCommand, CommandError

from apps.accounts.services import OPERATOR_PERMISSIONS, UnknownPermission, customer_upsert, token_create


class Command(BaseCommand):
    help = (
        "Create a customer, or update an existing one (never taking anything away), and print a new API "
        "token, alone on stdout: TOKEN=$(python manage.py create_customer alice)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", help="Set the password (a new user without one logs in by token only)")
        parser.add_argument("--email")
        parser.add_argument("--staff", action="store_true", help="Make the user staff (admin login)")
        parser.add_argument(
            "--permission",
            action="append",
            default=[],
            metavar="APP_LABEL.CODENAME",
            help="Grant a permission, e.g. orders.view_sagastate; repeat for more",
        )
        parser.add_argument(
            "--seed-operator",
            action="store_true",
            help=f"Staff with the seed scripts' permissions: {', '.join(OPERATOR_PERMISSIONS)}",
        )

    def handle(self, *args, username, password, email, staff, permission, seed_operator, **options):
        permissions = [*permission, *(OPERATOR_PERMISSIONS if seed_operator else ())]
        try:
            user = customer_upsert(
                username=username,
                password=password,
                email=email,
                staff=staff or seed_operator,
                permissions=permissions,
            )
        except UnknownPermission as exc:
            raise CommandError(str(exc)) from None
        token, _ = token_create(user=user)
        self.stdout.write(token)
