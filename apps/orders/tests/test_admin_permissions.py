"""The sagas admin for staff by permission: reading needs orders.view_sagastate, acting orders.operate_saga."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.test import Client

from apps.orders.models import SagaState, SagaStatus
from apps.orders.tests.test_admin import CHANGELIST, buttons, click, in_state

ORDERS_AND_USERS_DB = ["default", "orders"]
OPERATOR_ACTIONS = {"retry_current_step", "force_compensation", "mark_resolved"}


def staff_with(django_user_model, *codenames: str) -> Client:
    user = django_user_model.objects.create_user("clerk", password="clerk-password", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="orders", codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def offered_actions(changelist_page) -> set[str]:
    form = changelist_page.context.get("action_form")
    return {name for name, _ in form.fields["action"].choices if name} if form else set()


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_staff_without_operate_saga_see_sagas_but_no_actions(django_user_model):
    client = staff_with(django_user_model, "view_sagastate")
    saga = in_state("INVENTORY_RESERVED")

    changelist = client.get(CHANGELIST)
    change_page = client.get(f"{CHANGELIST}{saga.pk}/change/")

    assert changelist.status_code == 200
    assert offered_actions(changelist) == set()
    assert change_page.status_code == 200
    assert buttons(change_page) == set()


@pytest.mark.parametrize("action", sorted(OPERATOR_ACTIONS))
@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_staff_without_operate_saga_get_403_for_an_action_posted_anyway(django_user_model, action):
    client = staff_with(django_user_model, "view_sagastate")
    saga = in_state("INVENTORY_RESERVED")

    response = client.post(CHANGELIST, {"action": action, ACTION_CHECKBOX_NAME: [saga.pk]})

    assert response.status_code == 403
    assert SagaState.objects.get(pk=saga.pk).status == SagaStatus.IN_PROGRESS


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_staff_with_operate_saga_get_the_actions_and_the_buttons(django_user_model):
    client = staff_with(django_user_model, "view_sagastate", "operate_saga")
    saga = in_state("INVENTORY_RESERVED")

    assert offered_actions(client.get(CHANGELIST)) == OPERATOR_ACTIONS
    assert "force_compensation" in buttons(client.get(f"{CHANGELIST}{saga.pk}/change/"))
    click(client, "force_compensation", saga)
    assert SagaState.objects.get(pk=saga.pk).status == SagaStatus.COMPENSATING


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_staff_without_view_sagastate_cannot_open_the_sagas(django_user_model):
    client = staff_with(django_user_model)
    saga = in_state()

    assert client.get(CHANGELIST).status_code == 403
    assert client.get(f"{CHANGELIST}{saga.pk}/change/").status_code == 403


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_a_superuser_still_gets_everything(admin_client):
    saga = in_state("INVENTORY_RESERVED")

    assert offered_actions(admin_client.get(CHANGELIST)) == OPERATOR_ACTIONS
    assert buttons(admin_client.get(f"{CHANGELIST}{saga.pk}/change/")) >= {"force_compensation"}
