from decimal import Decimal

from django.conf import settings
from django.http.request import HttpHeaders
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import NotAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.errors import ApiError, error_schema_response
from apps.common.filters import StrictFilterBackend, filter_queryset
from apps.common.ids import MAX_ID, parse_int_id, parse_uuid_id
from apps.common.pagination import keyed_pagination
from apps.common.permissions import permissions_required
from apps.common.serializers import FlatInputSerializer, LinkField, StrictCharField
from apps.orders.filters import OrderFilter, SagaFilter
from apps.orders.selectors import order_get, order_list, saga_get, saga_history, saga_list
from apps.orders.services.cancellation import OrderNotCancellable, OrderNotFound, order_cancel
from apps.orders.services.idempotency import IdempotencyKeyReused
from apps.orders.services.placement import OrderLimitReached, order_place
from apps.orders.throttles import OrderPlacementsPerAddress, OrderPlacementsPerCustomer

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_META_KEY = HttpHeaders.to_wsgi_name(IDEMPOTENCY_KEY_HEADER)
IDEMPOTENCY_KEY_MAX_LENGTH = 255
# Printable ASCII; no space at either end, where HTTP would strip it.
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]([ -~]*[!-~])?$"


class OrderLineOutputSerializer(serializers.Serializer):
    product_id = serializers.IntegerField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        allow_null=True,
        help_text="The catalog's unit price, fixed when the stock is reserved (null until then)",
    )
    line_total = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)


class OrderOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    user_id = serializers.IntegerField()
    lines = OrderLineOutputSerializer(many=True, source="lines.all")
    product_id = serializers.SerializerMethodField(help_text="The product of a one-line order (null otherwise)")
    quantity = serializers.SerializerMethodField(help_text="The units of a one-line order (null otherwise)")
    total_amount = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        allow_null=True,
        help_text="What the payment charges: the catalog total, known once the stock is reserved",
    )
    currency = serializers.CharField()
    expected_total = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    status = serializers.CharField()
    failure_reason = serializers.CharField()
    cancel_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    saga_url = LinkField(
        view_name="saga-detail",
        lookup_field="placement_saga_id",
        url_kwarg="saga_id",
        allow_null=True,
        help_text="The saga placing the order (GET /sagas/{saga_id}, for staff with orders.view_sagastate)",
    )
    payment_url = LinkField(
        view_name="payment-detail",
        lookup_field="pk",
        url_kwarg="order_id",
        help_text="The order's payment (GET /payments/{order_id}): 404 until a charge is attempted",
    )

    @extend_schema_field({"type": "integer", "format": "int64", "nullable": True})
    def get_product_id(self, order) -> int | None:
        lines = order.lines.all()
        return lines[0].product_id if len(lines) == 1 else None

    @extend_schema_field({"type": "integer", "nullable": True})
    def get_quantity(self, order) -> int | None:
        lines = order.lines.all()
        return lines[0].quantity if len(lines) == 1 else None


class SagaOutputSerializer(serializers.Serializer):
    saga_id = serializers.UUIDField()
    saga_type = serializers.CharField()
    order_id = serializers.IntegerField()
    status = serializers.CharField()
    current_step = serializers.CharField()
    cancelling = serializers.BooleanField()
    trace_id = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    deadline_at = serializers.DateTimeField(allow_null=True)
    is_stuck = serializers.BooleanField()
    order_url = LinkField(
        view_name="order-detail", lookup_field="order_id", url_kwarg="order_id", help_text="The saga's order"
    )
    payment_url = LinkField(
        view_name="payment-detail",
        lookup_field="order_id",
        url_kwarg="order_id",
        help_text="The order's payment (GET /payments/{order_id}): 404 until a charge is attempted",
    )


class SagaHistorySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    from_status = serializers.CharField()
    from_step = serializers.CharField()
    to_status = serializers.CharField()
    to_step = serializers.CharField()
    event = serializers.CharField()
    message_id = serializers.UUIDField(allow_null=True)
    reason = serializers.CharField()
    actor = serializers.CharField()
    note = serializers.CharField(help_text="What the operator wrote when acting (empty otherwise)")


@extend_schema_field(
    {
        "type": "string",
        "format": "decimal",
        # 0.01 to 9999999999.99, at most two decimals (JSON numbers are accepted too).
        "pattern": r"^(0*[1-9][0-9]{0,9}(\.[0-9]{1,2})?|0*\.(0[1-9]|[1-9][0-9]?))$",
        "example": "199.98",
    }
)
class AmountField(serializers.DecimalField):
    """A positive amount in cents; documented with the bounds the field enforces, which DRF leaves out."""


def _idempotency_parameter(replayed: str) -> OpenApiParameter:
    return OpenApiParameter(
        IDEMPOTENCY_KEY_HEADER,
        {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH, "pattern": IDEMPOTENCY_KEY_PATTERN},
        location=OpenApiParameter.HEADER,
        description=(
            f"Any unique string up to 255 characters. A retry with the same key and body gets the first answer back "
            f"({replayed}); the same key with another body gets 422 IDEMPOTENCY_KEY_REUSED."
        ),
    )


def _key_reused() -> ApiError:
    return ApiError(
        status_code=422,
        code="IDEMPOTENCY_KEY_REUSED",
        message=f"{IDEMPOTENCY_KEY_HEADER} was already used with a different request body.",
    )


class OrderLineInputSerializer(FlatInputSerializer):
    """One product of the order and its units."""

    product_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    quantity = serializers.IntegerField(min_value=1, max_value=settings.ORDER_MAX_QUANTITY)


class OrdersApi(APIView):
    @extend_schema_serializer(component_name="OrderPlace")
    class InputSerializer(serializers.Serializer):
        lines = OrderLineInputSerializer(
            many=True,
            required=False,
            min_length=1,
            max_length=settings.ORDER_MAX_LINES,
            help_text=f"1 to {settings.ORDER_MAX_LINES} distinct products",
        )
        product_id = serializers.IntegerField(
            min_value=1, max_value=MAX_ID, required=False, help_text="A one-line order, instead of lines"
        )
        quantity = serializers.IntegerField(
            min_value=1, max_value=settings.ORDER_MAX_QUANTITY, required=False, help_text="With product_id"
        )
        user_id = serializers.IntegerField(
            min_value=1,
            max_value=MAX_ID,
            required=False,
            help_text="Your own id, or left out; staff with orders.place_on_behalf may name any customer",
        )
        expected_total = AmountField(
            max_digits=12,
            decimal_places=2,
            min_value=Decimal("0.01"),
            required=False,
            help_text="The total you agreed to: the order fails with PRICE_CHANGED before any charge if the "
            "catalog's differs",
        )
        total_amount = AmountField(
            max_digits=12,
            decimal_places=2,
            min_value=Decimal("0.01"),
            required=False,
            help_text="Read as expected_total; staff with orders.override_price set the total charged with it",
        )

        def validate(self, data):
            if "lines" in data:
                if "product_id" in data or "quantity" in data:
                    raise serializers.ValidationError({"lines": "Send lines, or product_id and quantity, not both."})
                lines = [(line["product_id"], line["quantity"]) for line in data["lines"]]
            else:
                missing = {name: "This field is required." for name in ("product_id", "quantity") if name not in data}
                if missing:
                    raise serializers.ValidationError(missing)
                lines = [(data["product_id"], data["quantity"])]
            if len({product_id for product_id, _ in lines}) != len(lines):
                raise serializers.ValidationError({"lines": "Each product may appear in one line only."})
            expected, total = data.get("expected_total"), data.get("total_amount")
            if expected is not None and total is not None and expected != total:
                raise serializers.ValidationError({"expected_total": "Differs from total_amount."})
            return {"lines": lines, "user_id": data.get("user_id"), "expected_total": expected, "total": total}

    @extend_schema_serializer(component_name="OrderPlaced")
    class PlacedSerializer(serializers.Serializer):
        order_id = serializers.IntegerField()
        saga_id = serializers.UUIDField()
        status = serializers.CharField()

    pagination_class = keyed_pagination("orders")
    filter_backends = [StrictFilterBackend]
    filterset_class = OrderFilter
    # Read by the view, not a filter: the seed's parameter, answering INVALID_ID as an id does.
    query_parameters = ("user_id",)
    throttle_classes = [OrderPlacementsPerCustomer, OrderPlacementsPerAddress]

    @extend_schema(
        operation_id="orders_place",
        request=InputSerializer,
        examples=[
            OpenApiExample(
                "Two lines",
                summary="Two lines of the demo catalog, priced by it",
                value={"lines": [{"product_id": 1001, "quantity": 2}, {"product_id": 1002, "quantity": 1}]},
                request_only=True,
            ),
            OpenApiExample(
                "One product at a set total",
                summary="One product for customer 42 at a set total: staff with orders.place_on_behalf "
                "and orders.override_price",
                value={"user_id": 42, "product_id": 1001, "quantity": 2, "total_amount": "199.98"},
                request_only=True,
            ),
        ],
        parameters=[_idempotency_parameter("same order, no second saga")],
        responses={
            201: PlacedSerializer,
            400: error_schema_response("Invalid order or Idempotency-Key, or another customer's user_id"),
            409: error_schema_response(
                "A limit reached: TOO_MANY_OPEN_ORDERS or TOO_MANY_UNITS_IN_FLIGHT (orders waiting for payment)"
            ),
            422: error_schema_response("Idempotency-Key already used for another order"),
        },
    )
    def post(self, request):
        """Place an order; the catalog prices it when the stock is reserved, and the payment charges that total."""
        if not request.user.is_authenticated:
            # An order belongs to someone: there is no anonymous customer.
            raise NotAuthenticated()
        idempotency_key = _idempotency_key(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = request.user
        on_behalf = user.has_perm("orders.place_on_behalf")
        if data["user_id"] is not None and data["user_id"] != user.pk and not on_behalf:
            raise ApiError(
                status_code=400,
                code="USER_ID_NOT_YOURS",
                message="An order is placed for yourself: leave user_id out, or send your own.",
                fields={"user_id": ["Not your user id."]},
            )
        override = data["total"] is not None and user.has_perm("orders.override_price")
        try:
            saga = order_place(
                user_id=data["user_id"] or user.pk,
                lines=data["lines"],
                expected_total=None if override else data["expected_total"] or data["total"],
                total_override=data["total"] if override else None,
                caller_id=user.pk,
                limited=not on_behalf,
                trace_id=getattr(request, "trace_id", ""),
                idempotency_key=idempotency_key,
            )
        except IdempotencyKeyReused:
            raise _key_reused() from None
        except OrderLimitReached as exc:
            raise ApiError(status_code=409, code=exc.code, message=exc.message) from None
        return _saga_answer(saga, status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="orders_list",
        parameters=[
            OpenApiParameter(
                "user_id",
                {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID},
                description="Only this user's orders (a customer only ever sees their own)",
            )
        ],
        responses={
            200: OrderOutputSerializer(many=True),
            400: error_schema_response("An unknown, repeated or empty query parameter, or an invalid value"),
        },
    )
    def get(self, request):
        """Your orders, newest first; staff with orders.view_order see every customer's."""
        raw_user_id = request.query_params.get("user_id")
        user_id = None if raw_user_id is None else parse_int_id(raw_user_id, name="user_id")
        orders = filter_queryset(request, order_list(user_id=user_id, customer_id=customer_scope(request)), view=self)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(orders, request, view=self)
        return paginator.get_paginated_response(
            OrderOutputSerializer(page, many=True, context={"request": request}).data
        )


def order_place_shapes(result, **kwargs):
    """drf-spectacular hook: an order body is lines, or the seed's one product_id and quantity, never both.

    One serializer validates both shapes; the schema says which bodies it accepts.
    """
    body = result.get("components", {}).get("schemas", {}).get("OrderPlaceRequest")
    if body is None or "properties" not in body:
        return result
    # No single field is required, but a body is.
    result["paths"]["/orders"]["post"]["requestBody"]["required"] = True
    properties = dict(body["properties"])
    lines, product_id, quantity = properties.pop("lines"), properties.pop("product_id"), properties.pop("quantity")
    lines = {**lines, "minItems": 1, "maxItems": settings.ORDER_MAX_LINES}
    body.clear()
    body["oneOf"] = [
        {
            "title": "Lines",
            "type": "object",
            "properties": {"lines": lines, **properties},
            "required": ["lines"],
            "not": {"anyOf": [{"required": ["product_id"]}, {"required": ["quantity"]}]},
        },
        {
            "title": "One product",
            "type": "object",
            "properties": {"product_id": product_id, "quantity": quantity, **properties},
            "required": ["product_id", "quantity"],
            "not": {"required": ["lines"]},
        },
    ]
    return result


def customer_scope(request) -> int | None:
    """None for staff who may see every order (orders.view_order); the caller's own id for anyone else.

    A caller with no id (anonymous) gets 0, which no order belongs to.
    """
    if request.user.has_perm("orders.view_order"):
        return None
    return request.user.pk or 0


def _saga_answer(saga, status_code: int) -> Response:
    """{order_id, saga_id, status}, flagged when replayed for an Idempotency-Key.

    The serializers document the shape; the body is built directly (running one cost 34 µs a request).
    """
    body = {"order_id": saga.order_id, "saga_id": str(saga.saga_id), "status": str(saga.response_status)}
    response = Response(body, status=status_code)
    if saga.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def _idempotency_key(request) -> str | None:
    key = request.META.get(IDEMPOTENCY_KEY_META_KEY)
    if key is None:
        return None
    if not 0 < len(key) <= IDEMPOTENCY_KEY_MAX_LENGTH or not key.isascii() or not key.isprintable():
        raise ApiError(
            status_code=400,
            code="INVALID_REQUEST",
            message=f"{IDEMPOTENCY_KEY_HEADER} must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters.",
        )
    return key


class OrderDetailApi(APIView):
    @extend_schema(
        operation_id="orders_get",
        responses={
            200: OrderOutputSerializer,
            400: error_schema_response("Invalid id"),
            404: error_schema_response("No such order, or another customer's"),
        },
    )
    def get(self, request, order_id: str):
        """One of your orders; staff with orders.view_order read any."""
        order = order_get(order_id=parse_int_id(order_id, name="order id"), customer_id=customer_scope(request))
        if order is None:
            raise ApiError(status_code=404, code="NOT_FOUND", message=f"Order {order_id} not found.")
        return Response(OrderOutputSerializer(order, context={"request": request}).data)


class OrderCancelApi(APIView):
    @extend_schema_serializer(component_name="OrderCancel")
    class InputSerializer(FlatInputSerializer):
        reason = StrictCharField(
            max_length=255,
            required=False,
            allow_blank=True,
            default="",
            help_text="Why you cancel (optional); the order shows it as cancel_reason",
        )

    @extend_schema_serializer(component_name="OrderCancelling")
    class OutputSerializer(serializers.Serializer):
        order_id = serializers.IntegerField()
        saga_id = serializers.UUIDField(help_text="The saga giving back the stock and the money")
        status = serializers.CharField(help_text="CANCELLING while it runs, CANCELLED once done")

    @extend_schema(
        operation_id="orders_cancel",
        request=InputSerializer,
        parameters=[_idempotency_parameter("the same cancellation, nothing done twice")],
        responses={
            202: OutputSerializer,
            400: error_schema_response("Invalid id, reason or Idempotency-Key"),
            404: error_schema_response("No such order, or another customer's"),
            409: error_schema_response(
                "The order cannot be cancelled: ORDER_NOT_CANCELLABLE (it failed or was compensated) or "
                "CANCEL_WINDOW_PASSED (confirmed longer ago than the cancellation window)"
            ),
            422: error_schema_response("Idempotency-Key already used for another request"),
        },
    )
    def post(self, request, order_id: str):
        """Cancel one of your orders: the stock goes back and a charged payment is refunded."""
        parsed_id = parse_int_id(order_id, name="order id")
        idempotency_key = _idempotency_key(request)
        serializer = self.InputSerializer(data=request.data if request.data else {})
        serializer.is_valid(raise_exception=True)
        try:
            saga = order_cancel(
                order_id=parsed_id,
                reason=serializer.validated_data["reason"],
                actor=request.user.get_username() if request.user.is_authenticated else "",
                caller_id=request.user.pk or 0,
                customer_id=None if request.user.has_perm("orders.change_order") else request.user.pk or 0,
                trace_id=getattr(request, "trace_id", ""),
                idempotency_key=idempotency_key,
            )
        except OrderNotFound:
            raise ApiError(status_code=404, code="NOT_FOUND", message=f"Order {order_id} not found.") from None
        except OrderNotCancellable as exc:
            raise ApiError(status_code=409, code=exc.code, message=exc.message) from None
        except IdempotencyKeyReused:
            raise _key_reused() from None
        return _saga_answer(saga, status.HTTP_202_ACCEPTED)


class SagasApi(APIView):
    permission_classes = [permissions_required(GET="orders.view_sagastate")]
    pagination_class = keyed_pagination("sagas")
    filter_backends = [StrictFilterBackend]
    filterset_class = SagaFilter
    # Read by the view, not filters: stuck is computed, and order_id answers INVALID_ID as an id does.
    query_parameters = ("stuck", "order_id")

    @extend_schema(
        operation_id="sagas_list",
        parameters=[
            OpenApiParameter("stuck", bool, description="Only sagas active past their step deadline (or only not)"),
            OpenApiParameter(
                "order_id",
                {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID},
                description="Only this order's sagas",
            ),
        ],
        responses={
            200: SagaOutputSerializer(many=True),
            400: error_schema_response("An unknown, repeated or empty query parameter, or an invalid value"),
        },
    )
    def get(self, request):
        """Every saga, newest first: each order's placement and, if cancelled, its cancellation."""
        raw_stuck = request.query_params.get("stuck")
        if raw_stuck is not None and raw_stuck not in ("true", "false"):
            raise ApiError(status_code=400, code="INVALID_REQUEST", message="stuck must be true or false.")
        stuck = None if raw_stuck is None else raw_stuck == "true"
        raw_order_id = request.query_params.get("order_id")
        order_id = None if raw_order_id is None else parse_int_id(raw_order_id, name="order_id")
        sagas = filter_queryset(request, saga_list(stuck=stuck, order_id=order_id), view=self)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(sagas, request, view=self)
        return paginator.get_paginated_response(
            SagaOutputSerializer(page, many=True, context={"request": request}).data
        )


class SagaDetailApi(APIView):
    permission_classes = [permissions_required(GET="orders.view_sagastate")]

    @extend_schema_serializer(component_name="SagaDetail")
    class OutputSerializer(serializers.Serializer):
        saga = SagaOutputSerializer()
        order = OrderOutputSerializer(allow_null=True)
        history = SagaHistorySerializer(many=True)

    @extend_schema(
        operation_id="sagas_get",
        responses={
            200: OutputSerializer,
            400: error_schema_response("Invalid id"),
            404: error_schema_response("No such saga"),
        },
    )
    def get(self, request, saga_id: str):
        """One saga with its order and its timeline, oldest entry first."""
        saga = saga_get(saga_id=parse_uuid_id(saga_id, name="saga id"))
        if saga is None:
            raise ApiError(status_code=404, code="NOT_FOUND", message=f"Saga {saga_id} not found.")
        body = {"saga": saga, "order": order_get(order_id=saga.order_id), "history": saga_history(saga=saga)}
        return Response(self.OutputSerializer(body, context={"request": request}).data)
