"""The browser logins (the admin's, the browsable API's) behind the same lockout as POST /auth/token."""

import functools

from rest_framework import status

from apps.accounts.throttles import login_retry_after
from apps.common.errors import error_response


def login_lockout(login_view):
    """Wrap a form login view: a POST for a locked username or address gets 429 with Retry-After.

    Failures are counted by the ``user_login_failed`` signal the login form's ``authenticate()`` sends.
    """

    @functools.wraps(login_view)
    def view(request, *args, **kwargs):
        if request.method == "POST":
            retry_after = login_retry_after(request)
            if retry_after is not None:
                response = error_response(
                    status.HTTP_429_TOO_MANY_REQUESTS,
                    "THROTTLED",
                    f"Too many failed logins. Try again in {retry_after} seconds.",
                )
                response["Retry-After"] = str(retry_after)
                return response
        return login_view(request, *args, **kwargs)

    return view
