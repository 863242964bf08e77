"""The throttles' counters in Django's cache: shared through a real Redis, and open when the cache is down."""

import uuid

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from rest_framework.request import Request

from apps.common.throttles import PostsPerAddress

REDIS_URL = "redis://127.0.0.1:6379/0"


class TwoAMinute(PostsPerAddress):
    scope = "test_two_a_minute"


@pytest.fixture
def two_a_minute(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "test_two_a_minute": "2/min"},
    }


def redis_cache(settings, location: str) -> str:
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": prefix,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    return prefix


def post(address: str = "10.0.0.1") -> Request:
    request = Request(RequestFactory().post("/orders", REMOTE_ADDR=address))
    request.user = AnonymousUser()
    return request


@pytest.mark.redis
@pytest.mark.usefixtures("two_a_minute")
def test_counts_are_kept_in_redis_and_seen_by_every_throttle(settings):
    import redis

    prefix = redis_cache(settings, REDIS_URL)
    try:
        allowed = [TwoAMinute().allow_request(post(), None) for _ in range(3)]
        another_address = TwoAMinute().allow_request(post("10.0.0.2"), None)

        assert allowed == [True, True, False]
        assert another_address is True
        assert redis.Redis.from_url(REDIS_URL).keys(f"{prefix}:*")
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.keys(f"{prefix}:*"):
            client.delete(key)


@pytest.mark.usefixtures("two_a_minute")
def test_a_cache_that_cannot_be_reached_lets_requests_through(settings):
    redis_cache(settings, "redis://127.0.0.1:1/0")

    assert [TwoAMinute().allow_request(post(), None) for _ in range(5)] == [True] * 5


@pytest.mark.usefixtures("two_a_minute")
def test_retry_after_is_the_wait_for_the_oldest_counted_hit(monkeypatch):
    now = 1_000_000.0
    monkeypatch.setattr(TwoAMinute, "timer", lambda self: now)
    TwoAMinute().allow_request(post(), None)
    now += 20
    TwoAMinute().allow_request(post(), None)
    throttle = TwoAMinute()

    assert throttle.allow_request(post(), None) is False
    assert throttle.wait() == 40


@pytest.mark.usefixtures("two_a_minute")
def test_other_methods_are_not_counted():
    request = Request(RequestFactory().get("/orders", REMOTE_ADDR="10.0.0.1"))

    assert all(TwoAMinute().allow_request(request, None) for _ in range(5))
