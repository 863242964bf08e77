from apps.payments.models import Payment


def payment_get(*, order_id: int) -> Payment | None:
    return Payment.objects.filter(order_id=order_id).first()


def payment_get_for_customer(*, order_id: int, user_id: int | None) -> Payment | None:
    """The order's payment if it is ``user_id``'s; never one without an owner, nor for no user."""
    if user_id is None:
        return None
    return Payment.objects.filter(order_id=order_id, user_id=user_id).first()
