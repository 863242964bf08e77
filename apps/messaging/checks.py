"""System checks: a retention setting that does not parse fails at start-up, not in beat's log an hour later."""

from django.conf import settings
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
