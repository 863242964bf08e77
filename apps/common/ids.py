import uuid

from apps.common.errors import ApiError

MAX_ID = 2**63 - 1


def parse_int_id(raw: str, *, name: str) -> int:
    """A positive 64-bit id from a path or query string. Raises ApiError(INVALID_ID)."""
    if raw.isascii() and raw.isdigit() and 0 < int(raw) <= MAX_ID:
        return int(raw)
    raise ApiError(status_code=400, code="INVALID_ID", message=f"{name} must be a positive integer.")


def parse_uuid_id(raw: str, *, name: str) -> uuid.UUID:
    """A UUID from a path. Raises ApiError(INVALID_ID)."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ApiError(status_code=400, code="INVALID_ID", message=f"{name} must be a UUID.") from None
