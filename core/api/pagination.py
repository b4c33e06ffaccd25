import re

from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination

_WHOLE_NUMBER = re.compile(r"[0-9]{1,100}")


class StrictPageSizeMixin:
    """``page_size`` is a whole number from 1 (larger than ``max_page_size`` is capped), or a
    400 naming it: DRF's own pagination silently ignores ``page_size=null`` or ``0.5``, which
    the schema forbids."""

    def get_page_size(self, request):
        name = self.page_size_query_param
        raw = request.query_params.get(name) if name else None
        if raw is None:
            return self.page_size
        if not _WHOLE_NUMBER.fullmatch(raw) or int(raw) < 1:
            raise ValidationError(
                {name: [_("Give a whole number from 1 to %(max)d.") % {"max": self.max_page_size}]}
            )
        return min(int(raw), self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
                described = parameter.get("description", "").rstrip(".")
                parameter["description"] = (
                    f"{described} (at most {self.max_page_size}; larger values are capped)."
                ).strip()
        return parameters


class StandardPagination(StrictPageSizeMixin, PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters

    def get_page_number(self, request, paginator):
        # A malformed page (empty, 0.5) is a 400 naming it; a page past the end stays DRF's 404.
        raw = request.query_params.get(self.page_query_param)
        malformed = not _WHOLE_NUMBER.fullmatch(raw or "") or int(raw) < 1
        if raw is not None and raw not in self.last_page_strings and malformed:
            raise ValidationError({self.page_query_param: [_("Give a page number from 1.")]})
        return super().get_page_number(request, paginator)


class NewestFirstCursorPagination(StrictPageSizeMixin, CursorPagination):
    """For append-only, fast-growing tables: no COUNT(*), stable under concurrent inserts."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
