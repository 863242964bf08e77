"""DRF rate throttles whose rates are settings and whose counters live in Django's cache.

They are abuse limits, not a security boundary: DRF keeps each key's recent hits as a
list it reads and writes back, so requests racing each other can slip past by a few.
"""

import math

import structlog
from django.core.exceptions import ImproperlyConfigured
from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

logger = structlog.get_logger(__name__)

# What a cache that is down raises (Redis refused, timed out, gone); the local-memory cache raises nothing.
CACHE_ERRORS = (RedisError, OSError)


class SettingsRateThrottle(SimpleRateThrottle):
    """A ``SimpleRateThrottle`` that reads its scope's rate when it is made, and fails open.

    DRF's own class copies DEFAULT_THROTTLE_RATES when it is imported, so a changed setting
    (an override in a test) would not apply. A rate of ``None`` turns the throttle off. A cache
    that cannot be reached lets the request through and logs it: an abuse limit must not stop
    the intake.
    """

    # The methods counted (None: all); requests with another method pass untouched.
    methods: tuple[str, ...] | None = None

    def applies_to(self, method: str) -> bool:
        return self.methods is None or method in self.methods

    def get_rate(self) -> str | None:
        rates = api_settings.DEFAULT_THROTTLE_RATES
        if not self.scope or self.scope not in rates:
            raise ImproperlyConfigured(f"{type(self).__name__}: no DEFAULT_THROTTLE_RATES entry for {self.scope!r}")
        return rates[self.scope]

    def allow_request(self, request, view) -> bool:
        if not self.applies_to(request.method):
            return True
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS as exc:
            logger.warning("throttle.cache_unavailable", scope=self.scope, error=type(exc).__name__)
            return True

    def wait(self) -> int:
        """Whole seconds until one more request fits in the window (at least 1: Retry-After is always sent)."""
        if len(self.history) < self.num_requests:
            return 1
        frees_at = self.history[self.num_requests - 1] + self.duration
        return max(1, math.ceil(frees_at - self.now))

    def key_for(self, ident) -> str:
        return self.cache_format % {"scope": self.scope, "ident": ident}


class PostsPerUser(SettingsRateThrottle):
    """POST requests per logged-in user; other methods, and anonymous callers, are not counted."""

    methods = ("POST",)

    def get_cache_key(self, request, view) -> str | None:
        user = request.user
        return self.key_for(user.pk) if user and user.is_authenticated else None


class PostsPerAddress(PostsPerUser):
    """POST requests per client address (NUM_PROXIES says which X-Forwarded-For entry is the client)."""

    def get_cache_key(self, request, view) -> str:
        return self.key_for(self.get_ident(request))
