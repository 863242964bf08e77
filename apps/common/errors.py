"""Every error leaves the API as JSON ``{error, code, ...}``, never an HTML page."""

from django.http import JsonResponse
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, status
from rest_framework.views import exception_handler


class ApiError(exceptions.APIException):
    """An error with one of the API's stable codes; raise it from a view."""

    def __init__(self, *, status_code: int, code: str, message: str, **extra):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.extra = extra


_CODES = {
    exceptions.ParseError: "INVALID_REQUEST",
    exceptions.ValidationError: "INVALID_REQUEST",
    exceptions.NotAuthenticated: "UNAUTHORIZED",
    exceptions.AuthenticationFailed: "UNAUTHORIZED",
    exceptions.PermissionDenied: "PERMISSION_DENIED",
    exceptions.NotFound: "NOT_FOUND",
    exceptions.MethodNotAllowed: "METHOD_NOT_ALLOWED",
    exceptions.NotAcceptable: "NOT_ACCEPTABLE",
    exceptions.UnsupportedMediaType: "UNSUPPORTED_MEDIA_TYPE",
    exceptions.Throttled: "THROTTLED",
}


def json_exception_handler(exc, context):
    """DRF exception handler: map every API exception to ``{error, code, ...}``."""
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        response.data = {"error": exc.message, "code": exc.code, **exc.extra}
        return response
    code = next((code for kind, code in _CODES.items() if isinstance(exc, kind)), "ERROR")
    body = {"error": _message(exc), "code": code}
    if isinstance(exc, exceptions.ValidationError):
        body["fields"] = exc.detail
    response.data = body
    return response


def _message(exc) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "Request body failed validation."
    detail = exc.detail
    return str(detail if not isinstance(detail, (list, dict)) else exc.default_detail)


def error_response(status_code: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": message, "code": code}, status=status_code)


def not_found_view(request, exception=None):
    return error_response(status.HTTP_404_NOT_FOUND, "NOT_FOUND", "No such resource.")


def bad_request_view(request, exception=None):
    return error_response(status.HTTP_400_BAD_REQUEST, "INVALID_REQUEST", "Bad request.")


def permission_denied_view(request, exception=None):
    return error_response(status.HTTP_403_FORBIDDEN, "PERMISSION_DENIED", "Permission denied.")


def server_error_view(request):
    return error_response(status.HTTP_500_INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "Internal server error.")


def error_schema_response(description: str) -> OpenApiResponse:
    """An OpenAPI response description for the shared error body."""
    return OpenApiResponse(response=_ERROR_SCHEMA, description=description)


_ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "code": {"type": "string"}},
    "required": ["error", "code"],
}
