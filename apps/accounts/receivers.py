"""Signal receivers: each translates a Django signal into one service call."""

from apps.accounts.throttles import login_failure_record


def count_login_failure(sender, credentials, request=None, **kwargs) -> None:
    """A failed ``authenticate()`` of a login request (token, admin, browsable API) counts towards its lockout."""
    if request is not None:
        login_failure_record(request=request, username=credentials.get("username") or "")
