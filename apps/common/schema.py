"""drf-spectacular hooks: the OpenAPI document names the API's paths, and their ids, as clients call them."""

from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance
from rest_framework.permissions import AllowAny

from apps.common.errors import error_schema_response
from apps.common.ids import MAX_ID
from apps.common.permissions import ModelPermissions

# Routes take any segment and the view answers 400 INVALID_ID for a bad one; the schema says what a good one is.
PATH_ID_SCHEMAS = {
    "order_id": {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID},
    "product_id": {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID},
    "saga_id": {"type": "string", "format": "uuid"},
}


def canonical_paths(endpoints, **kwargs):
    """Document ``/orders``, not ``/orders/``, for a route whose trailing slash is optional (``/?$``)."""
    return [
        (path.rstrip("/") if path_regex.endswith("/?$") else path, path_regex, method, callback)
        for path, path_regex, method, callback in endpoints
    ]


def typed_path_ids(result, **kwargs):
    """Document each ``{order_id}``, ``{product_id}`` and ``{saga_id}`` with the values the views accept."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter.get("name") in PATH_ID_SCHEMAS:
                    parameter["schema"] = dict(PATH_ID_SCHEMAS[parameter["name"]])
    return result


class StrictFilterExtension(DjangoFilterExtension):
    """Documents a StrictFilterBackend's filters, with their enums, on an APIView.

    drf-spectacular's own extension finds the model through the view's queryset, which an
    APIView has none of; the filterset names it.
    """

    target_class = "apps.common.filters.StrictFilterBackend"
    priority = 1

    def get_schema_operation_parameters(self, auto_schema, *args, **kwargs):
        filterset_class = auto_schema.view.filterset_class
        model = filterset_class._meta.model
        return [
            parameter
            for name, field in filterset_class.base_filters.items()
            for parameter in self.resolve_filter_field(auto_schema, model, filterset_class, name, field)
        ]


class ApiAutoSchema(AutoSchema):
    """Documents the errors every protected endpoint can answer, from the view's own classes.

    401 where a login is required, 403 where model permissions are, 429 (with Retry-After)
    where a throttle applies to the method. An operation's own ``extend_schema`` entry wins.
    """

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        for code, description in self._implied_errors():
            if code not in responses:
                responses[code] = self._get_response_for_code(error_schema_response(description), code)
        if "429" in responses:
            responses["429"].setdefault("headers", {})["Retry-After"] = {
                "schema": {"type": "integer", "minimum": 1},
                "description": "Seconds to wait before trying again",
            }
        return operation

    def _implied_errors(self) -> list[tuple[str, str]]:
        permissions = self.view.get_permissions()
        errors = []
        if self.view.get_authenticators() and not any(isinstance(p, AllowAny) for p in permissions):
            errors.append(("401", "UNAUTHORIZED: no valid bearer token or session"))
        if any(isinstance(p, ModelPermissions) for p in permissions):
            errors.append(("403", "PERMISSION_DENIED: logged in without the staff permission this needs"))
        if any(throttle.applies_to(self.method) for throttle in self.view.get_throttles()):
            errors.append(("429", "THROTTLED: too many requests; see Retry-After"))
        return errors

    def _map_basic_serializer(self, serializer, direction):
        """A component is described by its own serializer's docstring, never one it inherits.

        drf-spectacular walks up to a base class's docstring, written for the developers
        (FlatInputSerializer's on shallow copies, in microseconds), not for a client.
        """
        schema = super()._map_basic_serializer(serializer, direction)
        if not type(force_instance(serializer)).__dict__.get("__doc__"):
            schema.pop("description", None)
        return schema
