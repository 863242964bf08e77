"""drf-spectacular hooks: the OpenAPI document names the API's paths, and their ids, as clients call them."""

from apps.common.ids import MAX_ID

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
