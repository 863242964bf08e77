from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.urls import include, path

from apps.accounts.views import login_lockout
from apps.common.apis import DocsApi, HealthApi, ReadyApi, SchemaApi, metrics_view

urlpatterns = [
    # Ahead of the admin's and DRF's own login routes: the same views, behind the login lockout.
    path("admin/login/", login_lockout(admin.site.login), name="admin-login"),
    path(
        "api-auth/login/",
        login_lockout(LoginView.as_view(template_name="rest_framework/login.html")),
        name="api-auth-login",
    ),
    path("admin/", admin.site.urls),
    path("api-auth/", include("rest_framework.urls")),
    path("api/schema/", SchemaApi.as_view(), name="schema"),
    path("api/docs/", DocsApi.as_view(url_name="schema"), name="swagger-ui"),
    path("health", HealthApi.as_view(), name="health"),
    path("ready", ReadyApi.as_view(), name="ready"),
    path("metrics", metrics_view, name="prometheus-django-metrics"),
    path("", include("apps.accounts.urls")),
    path("", include("apps.orders.urls")),
    path("", include("apps.inventory.urls")),
    path("", include("apps.payments.urls")),
]

handler400 = "apps.common.errors.bad_request_view"
handler403 = "apps.common.errors.permission_denied_view"
handler404 = "apps.common.errors.not_found_view"
handler500 = "apps.common.errors.server_error_view"
