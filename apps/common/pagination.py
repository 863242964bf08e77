from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response


class KeyedPagination(LimitOffsetPagination):
    """``{count, next, previous, <key>: [...]}``: the seed's ``{count, sagas}`` shape, paged."""

    default_limit = 50
    max_limit = 500
    results_key = "results"

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
