from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response

from apps.common.errors import ApiError


class KeyedPagination(LimitOffsetPagination):
    """``{count, next, previous, <key>: [...]}``: the seed's ``{count, sagas}`` shape, paged."""

    default_limit = 50
    max_limit = 500
    results_key = "results"

    def get_limit(self, request):
        raw = request.query_params.get(self.limit_query_param)
        if raw is None:
            return self.default_limit
        return _count(raw, name=self.limit_query_param, minimum=1, maximum=self.max_limit)

    def get_offset(self, request):
        raw = request.query_params.get(self.offset_query_param)
        return 0 if raw is None else _count(raw, name=self.offset_query_param, minimum=0)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {self.limit_query_param: (1, self.max_limit), self.offset_query_param: (0, MAX_COUNT)}
        for parameter in parameters:
            minimum, maximum = bounds[parameter["name"]]
            parameter["schema"] = {**parameter["schema"], "minimum": minimum, "maximum": maximum}
        return parameters

    def get_paginated_response(self, data):
        return Response(
            {
                "count": self.count,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                self.results_key: data,
            }
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["count", self.results_key],
            "properties": {
                "count": {"type": "integer"},
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                self.results_key: schema,
            },
        }


def keyed_pagination(key: str) -> type[KeyedPagination]:
    return type(f"{key.title()}Pagination", (KeyedPagination,), {"results_key": key})


# Far past any table's size, and within what the databases accept in LIMIT/OFFSET.
MAX_COUNT = 2**31 - 1


def _count(raw: str, *, name: str, minimum: int, maximum: int = MAX_COUNT) -> int:
    """A bounded integer query parameter; DRF would silently use its default for garbage."""
    if raw.isascii() and raw.isdigit() and minimum <= int(raw) <= maximum:
        return int(raw)
    raise ApiError(
        status_code=400, code="INVALID_REQUEST", message=f"{name} must be an integer from {minimum} to {maximum}."
    )
