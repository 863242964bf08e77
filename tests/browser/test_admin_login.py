import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ALL_DATABASES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases=ALL_DATABASES)]


def test_the_support_person_logs_in_and_sees_the_sagas(admin_page):
    admin_page.get_by_role("link", name="Saga states").click()

    expect(admin_page).to_have_url(re.compile(r"/admin/orders/sagastate/$"))
    expect(admin_page.locator("#changelist")).to_be_visible()
