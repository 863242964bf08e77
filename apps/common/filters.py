"""Query-string filters of the list endpoints: django-filter, refusing what it would silently ignore."""

from datetime import UTC

import django_filters
from django.core.exceptions import ValidationError
from django_filters.constants import EMPTY_VALUES
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.settings import api_settings

from apps.common.errors import ApiError


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter's backend, answering 400 INVALID_REQUEST for any query parameter it cannot apply.

    django-filter skips an unknown name, an empty value and a value its filter refuses, and
    lists everything: a client cannot tell a typo from a filter that matched every row. Known
    are the view's ``filterset_class`` filters, its paging parameters, ``format`` (the
    browsable API) and the ``query_parameters`` the view reads itself. A repeated parameter
    is refused too: only one of its values would be used.
    """

    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        params = request.query_params
        known = {*filterset.filters, *view.query_parameters, api_settings.URL_FORMAT_OVERRIDE}
        paginator = getattr(view, "pagination_class", None)
        if paginator is not None:
            known |= {paginator.limit_query_param, paginator.offset_query_param}
        errors = {name: ["Unknown query parameter."] for name in params if name not in known}
        errors |= {
            name: ["Given more than once."] for name in params if name in known and len(params.getlist(name)) > 1
        }
        errors |= {name: ["May not be empty."] for name in filterset.filters if params.get(name) == ""}
        if not errors and not filterset.is_valid():
            errors = filterset.errors
        if errors:
            names = ", ".join(sorted(errors))
            raise ApiError(
                status_code=400,
                code="INVALID_REQUEST",
                message=f"Invalid query parameters: {names}.",
                fields={name: list(messages) for name, messages in errors.items()},
            )
        return filterset.qs


def filter_queryset(request, queryset, *, view):
    """``queryset`` narrowed by the view's ``filter_backends``: GenericAPIView.filter_queryset, for an APIView."""
    for backend in view.filter_backends:
        queryset = backend().filter_queryset(request, queryset, view)
    return queryset


class OrderingFilter(django_filters.ChoiceFilter):
    """One sort key: a field of ``fields``, descending with a leading "-".

    django-filter's own takes a comma-separated list, whose empty list a schema cannot
    rule out; one key is all these lists need. Ties are broken by id, newest first, so
    that rows sharing a time keep their page.
    """

    def __init__(self, *, fields: tuple[str, ...], **kwargs):
        choices = [
            (key, f"{field}, {order}")
            for field in fields
            for key, order in ((field, "ascending"), (f"-{field}", "descending"))
        ]
        super().__init__(choices=choices, **kwargs)

    def filter(self, qs, value):
        if value in EMPTY_VALUES:
            return qs
        return qs.order_by(value, "-pk")


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 time, in UTC when it names no offset; one that UTC cannot hold is invalid.

    ``0001-01-01T00:00+01:00`` is a year before the first a datetime holds: the database
    adapter's conversion to UTC would raise, a 500. The "t" and "z" that RFC 3339 allows
    in lower case are read as "T" and "Z".
    """

    def to_python(self, value):
        result = super().to_python(value.upper() if isinstance(value, str) else value)
        if result is None:
            return None
        try:
            return result.astimezone(UTC)
        except OverflowError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField
