from apps.payments.models import Payment


def payment_get(*, order_id: int) -> Payment | None:
    return Payment.objects.filter(order_id=order_id).first()
