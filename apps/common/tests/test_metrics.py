"""The web's metrics: on its own port from the gunicorn master; on the public port only while METRICS_PUBLIC."""

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.test import Client

from apps.common.tests.http import assert_json_error
from tests.stack import free_port, procfile


def test_with_metrics_public_the_web_port_serves_metrics():
    response = Client().get("/metrics")

    assert response.status_code == 200
    assert b"http_requests_total" in response.content


def test_without_metrics_public_the_web_port_has_no_metrics(settings):
    settings.METRICS_PUBLIC = False

    assert_json_error(Client().get("/metrics"), 404, "NOT_FOUND")


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str, *, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.build_opener(NoRedirects).open(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_gunicorn_serves_the_workers_metrics_on_the_metrics_port_and_none_on_the_public_one(tmp_path):
    """The Procfile's web line under production settings: what Prometheus scrapes, and what a client sees."""
    port, metrics_port = free_port(), free_port()
    env = {
        **{name: value for name, value in os.environ.items() if name not in ("TEST_DB", "DJANGO_DEBUG")},
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "k7#Qw9!zR2@vX5$mT8^pL3&nB6*hJ1(dF4)sG0-yC_eU+aZ=oI",
        "VAR_DIR": str(tmp_path),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PORT": str(port),
        "METRICS_PORT": str(metrics_port),
        "WEB_CONCURRENCY": "2",
    }
    for variable in ("DATABASE_URL", "ORDERS_DATABASE_URL", "INVENTORY_DATABASE_URL", "PAYMENTS_DATABASE_URL"):
        env.pop(variable, None)
    web = subprocess.Popen(
        ["bash", "-c", f"exec {procfile()['web']}"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = fetch(f"http://127.0.0.1:{port}/health")
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn never answered"
                time.sleep(0.5)
        plain = fetch(f"http://127.0.0.1:{port}/metrics")
        secure = fetch(f"http://127.0.0.1:{port}/metrics", headers={"X-Forwarded-Proto": "https"})
        status, text = fetch(f"http://127.0.0.1:{metrics_port}/metrics")
    finally:
        os.killpg(web.pid, 15)
        web.wait(timeout=30)

    assert health[0] == 200
    assert plain[0] == 301, "plain HTTP /metrics is redirected to HTTPS, never served"
    assert secure[0] == 404
    assert status == 200
    assert 'http_requests_total{method="GET",route="/health",status="200"} 1.0' in text
