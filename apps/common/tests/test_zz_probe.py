import json
import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

ALL = ["default", "orders", "inventory", "payments"]

@pytest.mark.django_db(databases=ALL)
def test_probe():
    c = APIClient()
    r = c.get("/api/schema/?format=json")
    print(r.status_code, sorted(json.loads(r.content)["paths"]))
    for body in ['{"user_id": 1', '[1,2]', '"x"', '{"user_id":1,"product_id":1,"quantity":1,"total_amount":NaN}',
                 '{"user_id":true,"product_id":1,"quantity":1,"total_amount":"1"}',
                 '{"user_id":1,"product_id":1,"quantity":"5","total_amount":"1"}',
                 '{"user_id":1,"product_id":1,"quantity":1,"total_amount":"Infinity"}',
                 '{"user_id":1,"product_id":1,"quantity":1,"total_amount":1e400}',
                 '{"user_id":1,"product_id":1,"quantity":1,"total_amount":"1e-400"}',
                 ]:
        r = c.generic("POST", "/orders", body, content_type="application/json")
        print(body, r.status_code, r.content[:200])
    r = c.delete("/orders/1"); print(r.status_code, r.content)
    r = c.patch("/inventory/1"); print(r.status_code, r.content)
    r = c.get("/nope"); print(r.status_code, r.content, r["Content-Type"])
    r = c.get("/orders/1/x/y"); print(r.status_code, r.content, r["Content-Type"])
    admin = User.objects.create_superuser("a", "a@x.com", "pw")
    c.force_login(admin)
    from apps.inventory.models import Inventory
    inv = Inventory.objects.create(product_id=5, available_qty=3)
    for url in ["/admin/orders/sagastate/?q=abc", "/admin/orders/order/?q=abc", "/admin/inventory/inventory/?q=abc",
                "/admin/payments/payment/?q=abc", "/admin/inventory/inventorylog/?q=abc", "/admin/orders/sagastate/?q=00000000-0000-0000-0000-000000000000"]:
        try:
            r = c.get(url); print(url, r.status_code)
        except Exception as e:
            print(url, "EXC", repr(e)[:300])
    try:
        r = c.post(f"/admin/inventory/inventory/{inv.pk}/change/", {"available_qty": 9, "seen_version": 1, "_save": "Save"})
        print("change", r.status_code, r.content[:3000] if r.status_code != 302 else r["Location"])
    except Exception as e:
        print("change EXC", repr(e))
    inv.refresh_from_db(); print(inv.available_qty, inv.version)
