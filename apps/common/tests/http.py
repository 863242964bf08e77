"""Assertions on the API's shared error body, for every app's API tests."""

import json


def assert_json_error(response, status_code: int, code: str | None = None) -> dict:
    """The response is a JSON ``{error, code}`` body with this status (and code); returns the body."""
    assert response.status_code == status_code, response.content[:500]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert isinstance(body, dict)
    assert isinstance(body.get("error"), str)
    assert body["error"]
    assert isinstance(body.get("code"), str)
    if code is not None:
        assert body["code"] == code
    return body
