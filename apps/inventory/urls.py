from django.urls import re_path

from apps.inventory.apis import InventoryCreateApi, InventoryDetailApi, ProductDetailApi, ProductsApi

urlpatterns = [
    re_path(r"^inventory/?$", InventoryCreateApi.as_view(), name="inventory"),
    re_path(r"^inventory/(?P<product_id>[^/]+)/?$", InventoryDetailApi.as_view(), name="inventory-detail"),
    re_path(r"^products/?$", ProductsApi.as_view(), name="products"),
    re_path(r"^products/(?P<product_id>[^/]+)/?$", ProductDetailApi.as_view(), name="product-detail"),
]
