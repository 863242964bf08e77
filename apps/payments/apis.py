from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.errors import ApiError, error_schema_response
from apps.common.ids import parse_int_id
from apps.payments.selectors import payment_get, payment_get_for_customer


class PaymentDetailApi(APIView):
    @extend_schema_serializer(component_name="Payment")
    class OutputSerializer(serializers.Serializer):
        order_id = serializers.IntegerField()
        amount = serializers.DecimalField(max_digits=12, decimal_places=2)
        status = serializers.CharField()
        transaction_id = serializers.CharField()
        failure_reason = serializers.CharField()
        refund_id = serializers.CharField()
        refunded_at = serializers.DateTimeField(allow_null=True)
        created_at = serializers.DateTimeField()
        updated_at = serializers.DateTimeField()

    @extend_schema(
        operation_id="payments_get",
        responses={
            200: OutputSerializer,
            400: error_schema_response("Invalid id"),
            404: error_schema_response("No payment for this order, or the order is another customer's"),
        },
    )
    def get(self, request, order_id: str):
        """A customer sees their own orders' payments; staff with payments.view_payment see every one."""
        parsed_id = parse_int_id(order_id, name="order id")
        if request.user.has_perm("payments.view_payment"):
            payment = payment_get(order_id=parsed_id)
        else:
            payment = payment_get_for_customer(order_id=parsed_id, user_id=request.user.pk)
        if payment is None:
            raise ApiError(status_code=404, code="NOT_FOUND", message=f"No payment for order {order_id}.")
        return Response(self.OutputSerializer(payment).data)
