"""Failed logins per username and per client address: past the rate, every login is refused.

Only failures are counted: ``allow_request`` looks at the count without adding to it, and a
failed ``authenticate()`` adds one (``login_failure_record``, from the ``user_login_failed``
signal), so a customer who logs in often is never locked out by their own successes.
"""

import hashlib

from rest_framework.request import Request

from apps.common.throttles import CACHE_ERRORS, SettingsRateThrottle, logger

USERNAME_FIELD = "username"


def login_username(request) -> str:
    """The username a login request names: a DRF request's JSON body or a form's POST data."""
    data = request.data if isinstance(request, Request) else request.POST
    username = data.get(USERNAME_FIELD) if hasattr(data, "get") else None
    return username if isinstance(username, str) else ""


class LoginFailureThrottle(SettingsRateThrottle):
    scope = "login_failures"
    methods = ("POST",)

    def ident(self, request, username: str) -> str | None:
        raise NotImplementedError

    def get_cache_key(self, request, view) -> str | None:
        ident = self.ident(request, login_username(request))
        return None if ident is None else self.key_for(ident)

    def throttle_success(self) -> bool:
        return True

    def record_failure(self, request, username: str) -> None:
        """Count one failed login of ``username`` from ``request``'s client."""
        ident = self.ident(request, username)
        if self.rate is None or ident is None:
            return
        key = self.key_for(ident)
        now = self.timer()
        try:
            history = [at for at in self.cache.get(key, []) if at > now - self.duration]
            self.cache.set(key, [now, *history], self.duration)
        except CACHE_ERRORS as exc:
            logger.warning("throttle.cache_unavailable", scope=self.scope, error=type(exc).__name__)


class LoginFailuresPerUsername(LoginFailureThrottle):
    def ident(self, request, username: str) -> str | None:
        if not username:
            return None
        # Case-folded: MariaDB's default collation finds "Alice" for "alice", so they are one account's
        # attempts. Hashed: a cache key holds no user input.
        return "user_" + hashlib.sha256(username.casefold().encode()).hexdigest()


class LoginFailuresPerAddress(LoginFailureThrottle):
    def ident(self, request, username: str) -> str | None:
        return "addr_" + (self.get_ident(request) or "unknown")


LOGIN_THROTTLES = (LoginFailuresPerUsername, LoginFailuresPerAddress)


def login_failure_record(*, request, username: str) -> None:
    """Count a failed login against its username and its client address."""
    for throttle in LOGIN_THROTTLES:
        throttle().record_failure(request, username)


def login_retry_after(request) -> int | None:
    """Seconds until ``request``'s login may be tried (its username or address is locked), or None."""
    throttles = [kind() for kind in LOGIN_THROTTLES]
    waits = [throttle.wait() for throttle in throttles if not throttle.allow_request(request, None)]
    return max(waits) if waits else None
