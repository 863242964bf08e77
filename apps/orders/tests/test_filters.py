"""GET /orders and GET /sagas filters: status, created range, ordering; anything else is a 400."""

from datetime import UTC, datetime, timedelta

import pytest

from apps.common.tests.http import assert_json_error
from apps.common.tests.users import grant, logged_in
from apps.orders.models import Order, OrderStatus, SagaState, SagaStatus, SagaStep, SagaType
from apps.orders.tests.factories import OrderFactory, SagaStateFactory

pytestmark = pytest.mark.django_db(databases=["default", "orders"])

NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def placed_at(model, row, at: datetime):
    """``row`` as if created ``at`` (auto_now_add ignores what a factory passes)."""
    model.objects.filter(pk=row.pk).update(created_at=at)
    return row


def ids(response, key: str) -> list[int]:
    assert response.status_code == 200, response.content[:500]
    return [row["id" if key == "orders" else "saga_id"] for row in response.json()[key]]


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice")


@pytest.fixture
def orders_by_hour():
    """Three orders an hour apart, the middle one failed."""
    return [
        placed_at(Order, OrderFactory(status=status), NOON + timedelta(hours=hour))
        for hour, status in enumerate([OrderStatus.CONFIRMED, OrderStatus.FAILED, OrderStatus.PENDING])
    ]


def test_status_lists_only_orders_in_that_status(api_client, orders_by_hour):
    response = api_client.get("/orders", {"status": "FAILED"})

    assert ids(response, "orders") == [orders_by_hour[1].pk]
    assert response.json()["count"] == 1


def test_created_range_is_from_after_inclusive_to_before_exclusive(api_client, orders_by_hour):
    window = {"created_after": NOON.isoformat(), "created_before": (NOON + timedelta(hours=2)).isoformat()}

    assert ids(api_client.get("/orders", window), "orders") == [orders_by_hour[1].pk, orders_by_hour[0].pk]


def test_created_range_reads_offsets_and_takes_utc_without_one(api_client, orders_by_hour):
    at_one_pm_utc = "2026-03-01T14:00:00+01:00"

    assert ids(api_client.get("/orders", {"created_after": at_one_pm_utc}), "orders") == [
        orders_by_hour[2].pk,
        orders_by_hour[1].pk,
    ]
    assert ids(api_client.get("/orders", {"created_before": "2026-03-01T13:00:00"}), "orders") == [orders_by_hour[0].pk]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [("created_at", [2, 1, 0]), ("-created_at", [0, 1, 2]), ("id", [0, 1, 2]), ("-id", [2, 1, 0])],
)
def test_ordering(api_client, ordering, expected):
    # Created in the opposite order of their ids: created_at and id sort them differently.
    orders = [OrderFactory() for _ in range(3)]
    for order, hour in zip(orders, [2, 1, 0], strict=True):
        placed_at(Order, order, NOON + timedelta(hours=hour))

    assert ids(api_client.get("/orders", {"ordering": ordering}), "orders") == [orders[i].pk for i in expected]


def test_orders_sharing_a_time_keep_their_page_newest_first(api_client):
    orders = [placed_at(Order, OrderFactory(), NOON) for _ in range(3)]

    first = api_client.get("/orders", {"ordering": "created_at", "limit": 2})
    second = api_client.get(first.json()["next"])

    assert ids(first, "orders") + ids(second, "orders") == sorted((order.pk for order in orders), reverse=True)


def test_filters_page_and_keep_user_id(api_client):
    mine = [OrderFactory(user_id=7, status=OrderStatus.FAILED) for _ in range(3)]
    OrderFactory(user_id=7)
    OrderFactory(user_id=8, status=OrderStatus.FAILED)

    first = api_client.get("/orders", {"user_id": 7, "status": "FAILED", "limit": 2}).json()
    second = api_client.get(first["next"]).json()

    assert first["count"] == 3
    assert [order["id"] for order in first["orders"] + second["orders"]] == [order.pk for order in mine][::-1]


def test_a_customer_filtering_still_sees_only_their_own(alice):
    mine = OrderFactory(user_id=alice.pk, status=OrderStatus.FAILED)
    OrderFactory(user_id=alice.pk + 1, status=OrderStatus.FAILED)
    client = logged_in(alice)

    assert ids(client.get("/orders", {"status": "FAILED"}), "orders") == [mine.pk]
    assert ids(client.get("/orders", {"status": "FAILED", "user_id": alice.pk + 1}), "orders") == []
    assert ids(client.get("/orders", {"ordering": "id", "created_after": "2000-01-01T00:00:00Z"}), "orders") == [
        mine.pk
    ]


def test_staff_with_view_order_filter_every_customers_orders(django_user_model):
    staff = grant(django_user_model.objects.create_user("staff", is_staff=True), "orders.view_order")
    failed = [OrderFactory(status=OrderStatus.FAILED) for _ in range(2)]
    OrderFactory()

    assert ids(logged_in(staff).get("/orders", {"status": "FAILED"}), "orders") == [order.pk for order in failed][::-1]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param({"status": "BOGUS"}, "status", id="unknown-status"),
        pytest.param({"status": "failed"}, "status", id="status-in-lower-case"),
        pytest.param({"status": ""}, "status", id="empty-status"),
        pytest.param({"colour": "red"}, "colour", id="unknown-name"),
        pytest.param({"Status": "FAILED"}, "Status", id="name-in-another-case"),
        pytest.param({"created_after": "yesterday"}, "created_after", id="not-a-time"),
        pytest.param({"created_before": "2026-02-30T00:00:00Z"}, "created_before", id="no-such-day"),
        pytest.param({"created_after": "0001-01-01T00:00:00+01:00"}, "created_after", id="before-year-one-in-utc"),
        pytest.param({"created_before": "9999-12-31T23:59:59-01:00"}, "created_before", id="after-9999-in-utc"),
        pytest.param({"ordering": "total_amount"}, "ordering", id="unknown-ordering"),
        pytest.param({"ordering": "created_at,id"}, "ordering", id="two-orderings"),
        pytest.param({"status": ["FAILED", "PENDING"]}, "status", id="repeated"),
        pytest.param({"limit": ["1", "2"]}, "limit", id="repeated-paging"),
    ],
)
def test_an_unusable_query_parameter_is_a_400_naming_it(api_client, query, field):
    OrderFactory()

    body = assert_json_error(api_client.get("/orders", query), 400, "INVALID_REQUEST")

    assert list(body["fields"]) == [field]
    assert field in body["error"]


@pytest.mark.parametrize("query", [{"format": "json"}, {"limit": "1", "offset": "0"}, {"user_id": "1"}])
def test_paging_format_and_user_id_are_known(api_client, query):
    assert api_client.get("/orders", query).status_code == 200


def test_user_id_keeps_its_invalid_id_answer(api_client):
    assert_json_error(api_client.get("/orders", {"user_id": "abc", "status": "FAILED"}), 400, "INVALID_ID")


@pytest.fixture
def sagas_by_hour():
    """A completed placement, a failed cancellation, a running placement, an hour apart."""
    rows = [
        SagaStateFactory(status=SagaStatus.COMPLETED, current_step=SagaStep.DONE),
        SagaStateFactory(status=SagaStatus.FAILED, saga_type=SagaType.CANCELLATION),
        SagaStateFactory(),
    ]
    return [placed_at(SagaState, saga, NOON + timedelta(hours=hour)) for hour, saga in enumerate(rows)]


def saga_ids(response) -> list[str]:
    return ids(response, "sagas")


def test_sagas_by_status_type_and_created_range(api_client, sagas_by_hour):
    completed, cancellation, running = (str(saga.saga_id) for saga in sagas_by_hour)

    assert saga_ids(api_client.get("/sagas", {"status": "FAILED"})) == [cancellation]
    assert saga_ids(api_client.get("/sagas", {"type": "placement"})) == [running, completed]
    assert saga_ids(api_client.get("/sagas", {"created_after": (NOON + timedelta(hours=1)).isoformat()})) == [
        running,
        cancellation,
    ]
    assert saga_ids(api_client.get("/sagas", {"created_before": (NOON + timedelta(hours=1)).isoformat()})) == [
        completed
    ]
    assert saga_ids(api_client.get("/sagas", {"type": "placement", "stuck": "false", "ordering": "created_at"})) == [
        completed,
        running,
    ]


def test_sagas_ordering(api_client, sagas_by_hour):
    completed, cancellation, running = (str(saga.saga_id) for saga in sagas_by_hour)
    # The newest by id made the oldest by created_at: the two keys now disagree.
    placed_at(SagaState, sagas_by_hour[2], NOON - timedelta(days=1))

    assert saga_ids(api_client.get("/sagas", {"ordering": "-id"})) == [running, cancellation, completed]
    assert saga_ids(api_client.get("/sagas", {"ordering": "id"})) == [completed, cancellation, running]
    assert saga_ids(api_client.get("/sagas", {"ordering": "-created_at"})) == [cancellation, completed, running]
    assert saga_ids(api_client.get("/sagas", {"ordering": "created_at"})) == [running, completed, cancellation]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param({"status": "BOGUS"}, "status", id="unknown-status"),
        pytest.param({"type": "refund"}, "type", id="unknown-type"),
        pytest.param({"type": ""}, "type", id="empty-type"),
        pytest.param({"saga_type": "placement"}, "saga_type", id="the-column-name"),
        pytest.param({"colour": "red"}, "colour", id="unknown-name"),
        pytest.param({"created_after": "noon"}, "created_after", id="not-a-time"),
        pytest.param({"ordering": "status"}, "ordering", id="unknown-ordering"),
        pytest.param({"user_id": "1"}, "user_id", id="another-lists-parameter"),
    ],
)
def test_sagas_refuse_an_unusable_query_parameter(api_client, query, field):
    body = assert_json_error(api_client.get("/sagas", query), 400, "INVALID_REQUEST")

    assert list(body["fields"]) == [field]
