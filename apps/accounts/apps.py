from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Customers and staff: logins, API tokens, lockout"

    def ready(self):
        from django.contrib.auth.signals import user_login_failed

        from apps.accounts import receivers, schema  # noqa: F401 -- schema registers the bearer scheme

        user_login_failed.connect(receivers.count_login_failure, dispatch_uid="accounts.count_login_failure")
