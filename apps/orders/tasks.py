from datetime import timedelta

from celery import shared_task
from django.conf import settings

from apps.orders.services.idempotency import idempotency_keys_purge
from apps.orders.services.periodic import saga_expire_deadlines, saga_recover


@shared_task(name="orders.recover_sagas", acks_late=False)
def recover_sagas() -> int:
    """Re-send the step command of sagas idle longer than SAGA_RECOVERY_AGE (run by beat)."""
    return saga_recover(older_than=timedelta(seconds=settings.SAGA_RECOVERY_AGE))


@shared_task(name="orders.expire_saga_deadlines", acks_late=False)
def expire_saga_deadlines() -> int:
    """Compensate sagas whose forward step passed its deadline (run by beat every SAGA_DEADLINE_CHECK_INTERVAL)."""
    return saga_expire_deadlines()


@shared_task(name="orders.purge_idempotency_keys", acks_late=False)
def purge_idempotency_keys() -> int:
    """Delete Idempotency-Keys older than IDEMPOTENCY_KEY_TTL (run by beat hourly)."""
    return idempotency_keys_purge()
