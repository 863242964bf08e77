"""The browsable API's raw-data form, after an answer: what was sent stays in it when refused."""

import html
import re

import pytest

from apps.common.tests.users import logged_in

pytestmark = pytest.mark.django_db(databases=["default", "orders"])


def raw_form_content(response) -> str:
    """The text in the page's raw-data form (the "Content" textarea)."""
    assert response["Content-Type"].startswith("text/html"), response["Content-Type"]
    match = re.search(r'<textarea[^>]*name="_content"[^>]*>(.*?)</textarea>', response.content.decode(), re.S)
    assert match, "no raw-data form on the page"
    return html.unescape(match.group(1)).strip()


def post_from_the_browser(user, body: str):
    return logged_in(user).post("/orders", body, content_type="application/json", HTTP_ACCEPT="text/html")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('{"product_id": 1001, "quantity": 0}', id="refused-value"),
        pytest.param('{"product_id": 1001, "quantity"', id="not-json"),
        pytest.param('{"note": "café"}', id="non-ascii"),
    ],
)
def test_a_refused_body_stays_in_the_form(operator, body):
    response = post_from_the_browser(operator, body)

    assert response.status_code == 400
    assert raw_form_content(response) == body


def test_an_accepted_body_leaves_the_form_empty(operator):
    response = post_from_the_browser(operator, '{"product_id": 1001, "quantity": 1}')

    assert response.status_code == 201
    assert raw_form_content(response) == ""


def test_a_page_read_with_get_has_an_empty_form(operator):
    assert raw_form_content(logged_in(operator).get("/orders", HTTP_ACCEPT="text/html")) == ""
