"""What an anonymous caller gets from every route, under production settings, and the table that says so.

``python -m tests.surface ANSWERS.json`` (run by tests/test_surface.py with ``DJANGO_SETTINGS_MODULE=
config.settings.production`` and a fresh ``VAR_DIR``) migrates SQLite databases there, loads the
demo catalog, then asks every operation of the OpenAPI document and every other route of the URL
resolver anonymously, once as HTTPS (``X-Forwarded-Proto: https``, as the proxy says) and once as
plain HTTP, and writes the answers there as JSON. ``documented_surface`` reads the table in
docs/security.md that the answers must match.
"""

import json
import re
import sys
import uuid
from pathlib import Path

SECURITY_MD = Path(__file__).resolve().parent.parent / "docs" / "security.md"
TABLE_MARK = "<!-- anonymous surface: tests/test_surface.py checks this table against every route -->"
EVERY_OTHER_OPERATION = "every other operation of the OpenAPI document"
EVERY_OTHER_ADMIN_PAGE = "every other page under `/admin/`"
# Values for the ids in a route: the demo catalog's first product, and ids nothing has.
EXAMPLES = {"order_id": "1", "product_id": "1001", "saga_id": str(uuid.UUID(int=1))}


def documented_surface() -> dict[str, tuple[int, int]]:
    """docs/security.md's table: ``"GET /health"`` (or a catch-all row's words) -> (HTTPS status, plain HTTP status)."""
    text = SECURITY_MD.read_text()
    assert TABLE_MARK in text, f"{SECURITY_MD} lost its anonymous-surface table"
    lines = text.split(TABLE_MARK, 1)[1].strip().splitlines()
    rows = {}
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        request, https, plain = (cell.strip() for cell in line.strip("|").split("|")[:3])
        request = request.strip("`") if request.startswith("`") and request.count("`") == 2 else request
        rows[request] = (_status(https), _status(plain))
    return rows


def _status(cell: str) -> int:
    return int(re.search(r"\b[1-5]\d\d\b", cell).group())


# --- the probe, run under production settings ---------------------------------------------


def concrete(route: str) -> str:
    """A path that the route matches: ``admin/<path:object_id>/`` or ``^orders/(?P<order_id>[^/]+)/?$``."""

    def group(match: re.Match) -> str:
        name, body = match.group("name"), match.group("body")
        if re.fullmatch(r"[\w|-]+", body):
            return body.split("|")[0]
        return EXAMPLES.get(name, "1")

    path = re.sub(r"\(\?P<(?P<name>\w+)>(?P<body>(?:[^()]|\([^()]*\))*)\)", group, route)
    path = re.sub(r"<(?:\w+:)?(?P<name>\w+)>", lambda match: EXAMPLES.get(match.group("name"), "1"), path)
    return "/" + path.replace("^", "").replace("$", "").replace("/?", "").replace("\\", "")


def routes(patterns, prefix: str = ""):
    """Every route of the URL resolver, as (route string, view callback)."""
    from django.urls import URLPattern, URLResolver

    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def ask(method: str, path: str, *, secure: bool) -> dict:
    from django.test import Client

    client = Client(enforce_csrf_checks=True, HTTP_X_FORWARDED_PROTO="https" if secure else "http")
    body = {"data": "{}", "content_type": "application/json"} if method != "get" else {}
    response = getattr(client, method)(path, **body)
    is_json = response.get("Content-Type", "").startswith("application/json")
    return {
        "status": response.status_code,
        "location": response.get("Location", ""),
        "code": json.loads(response.content).get("code") if is_json else None,
    }


def main() -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.urls import get_resolver, resolve
    from drf_spectacular.generators import SchemaGenerator

    call_command("migrate_all", verbosity=0)
    call_command("load_demo_catalog", verbosity=0)
    schema = SchemaGenerator().get_schema(request=None, public=True)
    answers, api_views = [], set()
    for path, operations in sorted(schema["paths"].items()):
        for method in sorted(operations):
            request = concrete(re.sub(r"\{(\w+)\}", r"<\1>", path.lstrip("/")))
            api_views.add(resolve(request).func)
            answers.append(
                {"request": f"{method.upper()} {path}", "path": request, "kind": "operation", **_both(method, request)}
            )
    for route, callback in routes(get_resolver().url_patterns):
        if callback in api_views:
            continue
        request = concrete(route)
        answers.append(
            {"request": f"GET {request}", "path": request, "kind": "route", "route": route, **_both("get", request)}
        )
    Path(sys.argv[1]).write_text(json.dumps(answers))


def _both(method: str, path: str) -> dict:
    return {"https": ask(method, path, secure=True), "http": ask(method, path, secure=False)}


if __name__ == "__main__":
    main()
