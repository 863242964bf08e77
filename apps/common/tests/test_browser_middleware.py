"""BrowserMiddleware: sessions, CSRF, login, messages and frame headers where a browser is, not for API calls."""

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.test import Client, RequestFactory, override_settings

from apps.common.middleware import BrowserMiddleware

USERS_AND_ORDERS = ["default", "orders"]
ORDER = {"user_id": 1, "product_id": 1001, "quantity": 1, "total_amount": "9.99"}


def ok(request):
    return HttpResponse("ok")


@pytest.fixture
def token(operator) -> str:
    from apps.accounts.services import token_create

    return token_create(user=operator)[0]


@pytest.mark.django_db(databases=USERS_AND_ORDERS)
def test_an_api_call_without_cookie_skips_the_browser_middleware(client, token):
    response = client.post(
        "/orders",
        ORDER,
        content_type="application/json",
        HTTP_ACCEPT="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    assert response.status_code == 201
    assert "X-Frame-Options" not in response
    assert "Set-Cookie" not in response
    assert "Cookie" in response["Vary"], "a cache must not give it to a client with a session"
    assert response.wsgi_request.browser is False


@pytest.mark.django_db(databases=USERS_AND_ORDERS)
@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/orders", {"HTTP_ACCEPT": "text/html,application/xhtml+xml"}),
        ("/orders", {"HTTP_COOKIE": "theme=dark"}),
        ("/admin/login/", {}),
        ("/api-auth/login/", {}),
    ],
)
def test_a_browser_request_gets_them(client, token, path, headers):
    response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}", **headers)

    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response.wsgi_request.browser is True


@pytest.mark.django_db(databases=USERS_AND_ORDERS)
def test_the_admin_login_page_sets_the_csrf_cookie_and_a_login_works(django_user_model):
    django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-tests")
    browser = Client(enforce_csrf_checks=True)

    page = browser.get("/admin/login/")
    token = page.cookies["csrftoken"].value
    refused = Client(enforce_csrf_checks=True).post("/admin/login/", {"username": "root", "password": "pw-for-tests"})
    logged_in = browser.post(
        "/admin/login/?next=/admin/", {"username": "root", "password": "pw-for-tests", "csrfmiddlewaretoken": token}
    )

    assert refused.status_code == 403
    assert logged_in.status_code == 302
    assert browser.get("/admin/").status_code == 200


@override_settings(BROWSER_MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"])
def test_view_hooks_run_for_browser_requests_only():
    middleware = BrowserMiddleware(ok)
    factory = RequestFactory()
    with_cookie = factory.post("/somewhere", HTTP_COOKIE="csrftoken=abc")
    api_call = factory.post("/somewhere")
    middleware(with_cookie)
    middleware(api_call)

    refused = middleware.process_view(with_cookie, ok, (), {})

    assert refused is not None
    assert refused.status_code == 403
    assert middleware.process_view(api_call, ok, (), {}) is None


@override_settings(BROWSER_MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware"])
def test_the_check_names_each_browser_middleware_missing():
    errors = [error for error in run_checks() if error.id == "common.E001"]

    assert len(errors) == 4
    assert any("AuthenticationMiddleware" in error.msg for error in errors)
    assert any("CsrfViewMiddleware" in error.msg for error in errors)


def test_the_check_passes_on_the_shipped_settings():
    assert [error for error in run_checks() if error.id == "common.E001"] == []


class WithExceptionHook:
    def __init__(self, get_response):
        self.get_response = get_response

    def process_exception(self, request, exception):
        return None


@override_settings(BROWSER_MIDDLEWARE=[f"{__name__}.WithExceptionHook"])
def test_a_middleware_with_hooks_it_would_not_run_is_refused():
    with pytest.raises(ImproperlyConfigured, match="only process_view"):
        BrowserMiddleware(ok)
