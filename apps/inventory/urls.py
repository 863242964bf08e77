from django.urls import re_path

from apps.inventory.apis import InventoryCreateApi, InventoryDetailApi

urlpatterns = [
    re_path(r"^inventory/?$", InventoryCreateApi.as_view(), name="inventory"),
    re_path(r"^inventory/(?P<product_id>[^/]+)/?$", InventoryDetailApi.as_view(), name="inventory-detail"),
]
