"""System checks: a retention setting that does not parse fails at start-up, not in beat's log an hour later;
under ``--deploy``, a consumer that would act on unsigned messages is reported."""

from django.conf import settings
from django.core import checks
from django.core.checks import Error, register

from apps.messaging.retention import InvalidAge, parse_age


@register()
def check_retention_settings(app_configs, **kwargs) -> list[Error]:
    errors = []
    for name in ("MESSAGE_RETENTION", "INBOX_DEDUP_WINDOW"):
        try:
            parse_age(getattr(settings, name))
        except InvalidAge as exc:
            errors.append(Error(f"{name}: {exc}", id="messaging.E001"))
    if settings.MESSAGE_PURGE_BATCH_SIZE < 1:
        errors.append(Error("MESSAGE_PURGE_BATCH_SIZE must be at least 1", id="messaging.E002"))
    return errors


@register(deploy=True)
def check_message_signing(app_configs, **kwargs) -> list[checks.Warning]:
    """In production every message must show its producer: accepting unsigned ones is for an upgrade only."""
    if settings.MESSAGING_ACCEPT_UNSIGNED:
        return [
            checks.Warning(
                "MESSAGING_ACCEPT_UNSIGNED is on: a consumer acts on a message that carries no signature.",
                hint="Turn it off once the messages written before the upgrade are drained (docs/operations.md).",
                id="messaging.W001",
            )
        ]
    return []
