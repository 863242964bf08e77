"""Admin checks in a real browser: Playwright drives Debian's Chromium against a live server.

They run in the MariaDB pass of ``make test`` (marker ``browser``); ``make test-tools``
installs Chromium. A missing browser fails the test, it never skips.
"""

import os
import shutil

import pytest

ALL_DATABASES = ["default", "orders", "inventory", "payments"]
SUPPORT_PASSWORD = "support-password"


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("the browser tests need Chromium: `make test-tools` installs Debian's chromium package")
    return path


@pytest.fixture(scope="module")
def browser():
    """Chromium, for one module's tests.

    Playwright's sync API runs an event loop in the test's thread, while the ORM calls made
    around it are still synchronous ones: Django is told so while the module runs, and no
    longer after it, so that a process a later test starts (a deploy check) does not inherit it.
    """
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
            try:
                yield launched
            finally:
                launched.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def support_user(django_user_model):
    """The support person: a superuser of the admin."""
    return django_user_model.objects.create_superuser("support", password=SUPPORT_PASSWORD)


@pytest.fixture
def admin_page(browser, live_server, support_user):
    """A page logged into the admin as the support person; ``admin_page.url_of(path)`` is absolute."""
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", support_user.username)
    page.fill("#id_password", SUPPORT_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    try:
        yield page
    finally:
        context.close()
