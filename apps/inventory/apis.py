from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.errors import ApiError, error_schema_response
from apps.common.ids import MAX_ID, parse_int_id
from apps.common.pagination import keyed_pagination
from apps.common.permissions import permissions_required
from apps.common.serializers import CurrencyField, PriceField, StrictCharField
from apps.inventory.models import Inventory
from apps.inventory.selectors import catalog_get, catalog_list, inventory_get
from apps.inventory.services import (
    ProductExists,
    ProductNotFound,
    VersionConflict,
    inventory_create,
    inventory_set_available,
)

MAX_STOCK = 10**12
NAME_MAX_LENGTH = Inventory._meta.get_field("name").max_length


class InventoryOutputSerializer(serializers.Serializer):
    product_id = serializers.IntegerField()
    available_qty = serializers.IntegerField()
    reserved_qty = serializers.IntegerField()
    sold_qty = serializers.IntegerField()
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    name = serializers.CharField()
    # A string, so no client parses money into a float; null until the product is priced.
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True, allow_null=True)
    currency = serializers.CharField()


class CatalogInputSerializer(serializers.Serializer):
    """The catalog entry a stock write may carry; every field optional."""

    name = StrictCharField(max_length=NAME_MAX_LENGTH, required=False, allow_blank=True)
    unit_price = PriceField(required=False)
    currency = CurrencyField(required=False)


def _inventory_response(inventory, *, status_code: int = status.HTTP_200_OK) -> Response:
    response = Response(InventoryOutputSerializer(inventory).data, status=status_code)
    response["ETag"] = f'"{inventory.version}"'
    return response


class InventoryCreateApi(APIView):
    # Creating a product sets its stock and price: an addition and a change.
    permission_classes = [permissions_required(POST=("inventory.add_inventory", "inventory.change_inventory"))]

    @extend_schema_serializer(component_name="InventoryCreate")
    class InputSerializer(CatalogInputSerializer):
        """A new product's starting stock and, optionally, its name, unit price and currency."""

        product_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
        available_qty = serializers.IntegerField(min_value=0, max_value=MAX_STOCK)

    @extend_schema(
        operation_id="inventory_create",
        request=InputSerializer,
        responses={
            201: InventoryOutputSerializer,
            400: error_schema_response("Invalid body"),
            409: error_schema_response("Product already exists"),
        },
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            inventory = inventory_create(**serializer.validated_data)
        except ProductExists:
            raise ApiError(
                status_code=409,
                code="ALREADY_EXISTS",
                message=f"Product {serializer.validated_data['product_id']} already has inventory.",
            ) from None
        return _inventory_response(inventory, status_code=status.HTTP_201_CREATED)


class InventoryDetailApi(APIView):
    # Stock counts are staff data (customers see GET /products); writing them is a staff function.
    permission_classes = [permissions_required(GET="inventory.view_inventory", PUT="inventory.change_inventory")]

    @extend_schema_serializer(component_name="InventorySet")
    class InputSerializer(CatalogInputSerializer):
        """The product's available stock; a name, unit price or currency given is set too, one left out kept."""

        available_qty = serializers.IntegerField(min_value=0, max_value=MAX_STOCK)

    @extend_schema(
        operation_id="inventory_get",
        responses={
            200: InventoryOutputSerializer,
            400: error_schema_response("Invalid id"),
            404: error_schema_response("No such product"),
        },
    )
    def get(self, request, product_id: str):
        inventory = inventory_get(product_id=parse_int_id(product_id, name="product id"))
        if inventory is None:
            raise _not_found(product_id)
        return _inventory_response(inventory)

    @extend_schema(
        operation_id="inventory_set",
        request=InputSerializer,
        parameters=[
            OpenApiParameter(
                "If-Match",
                # A version as the ETag gives it ("7"), or bare, or weak (W/"7").
                {"type": "string", "pattern": r'^(W/)?"?[0-9]{1,18}"?$'},
                location=OpenApiParameter.HEADER,
                description="Only update if the version (ETag) is still this one.",
            )
        ],
        responses={
            200: InventoryOutputSerializer,
            400: error_schema_response("Invalid body or id"),
            404: error_schema_response("No such product"),
            412: error_schema_response("Version changed"),
        },
    )
    def put(self, request, product_id: str):
        parsed_id = parse_int_id(product_id, name="product id")
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        expected_version = _if_match_version(request.headers.get("If-Match"))
        try:
            inventory = inventory_set_available(
                product_id=parsed_id, expected_version=expected_version, **serializer.validated_data
            )
        except ProductNotFound:
            raise _not_found(product_id) from None
        except VersionConflict:
            raise ApiError(
                status_code=412,
                code="VERSION_CONFLICT",
                message=f"Product {parsed_id} changed since version {expected_version}.",
            ) from None
        return _inventory_response(inventory)


def _if_match_version(raw: str | None) -> int | None:
    if raw is None:
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    if value.isascii() and value.isdigit() and int(value) <= MAX_ID:
        return int(value)
    raise ApiError(status_code=400, code="INVALID_REQUEST", message="If-Match must be a version number.")


def _not_found(product_id: str) -> ApiError:
    return ApiError(status_code=404, code="NOT_FOUND", message=f"No inventory for product {product_id}.")


class ProductOutputSerializer(serializers.Serializer):
    """A product as anyone may see it: whether it is in stock, never the counters."""

    product_id = serializers.IntegerField()
    name = serializers.CharField()
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True, allow_null=True)
    currency = serializers.CharField()
    available = serializers.BooleanField()


class ProductsApi(APIView):
    # The catalog is the shop window: open to anonymous callers while the rest needs a login.
    permission_classes = [AllowAny]
    pagination_class = keyed_pagination("products")

    @extend_schema(
        operation_id="products_list",
        responses={200: ProductOutputSerializer(many=True), 400: error_schema_response("Invalid paging")},
    )
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(catalog_list(), request, view=self)
        return paginator.get_paginated_response(ProductOutputSerializer(page, many=True).data)


class ProductDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="products_get",
        responses={
            200: ProductOutputSerializer,
            400: error_schema_response("Invalid id"),
            404: error_schema_response("No such product"),
        },
    )
    def get(self, request, product_id: str):
        product = catalog_get(product_id=parse_int_id(product_id, name="product id"))
        if product is None:
            raise ApiError(status_code=404, code="NOT_FOUND", message=f"No product {product_id}.")
        return Response(ProductOutputSerializer(product).data)
