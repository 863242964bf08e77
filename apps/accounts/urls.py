from django.urls import re_path

from apps.accounts.apis import LogoutApi, TokenApi

urlpatterns = [
    re_path(r"^auth/token/?$", TokenApi.as_view(), name="auth-token"),
    re_path(r"^auth/logout/?$", LogoutApi.as_view(), name="auth-logout"),
]
