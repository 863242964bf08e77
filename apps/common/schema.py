"""drf-spectacular hooks: the OpenAPI document names the API's paths as clients call them."""


def canonical_paths(endpoints, **kwargs):
    """Document ``/orders``, not ``/orders/``, for a route whose trailing slash is optional (``/?$``)."""
    return [
        (path.rstrip("/") if path_regex.endswith("/?$") else path, path_regex, method, callback)
        for path, path_regex, method, callback in endpoints
    ]
