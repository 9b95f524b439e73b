"""Cursor pagination shared by the list APIs: {"next", "previous", "results"}.

Cursors rather than page numbers: a shopper scrolling a list while products are
added never sees one twice or misses one, and a page costs the same deep in the
list as at its start (no OFFSET scan).

The order is the queryset's own: the selector decides it, and its last field
must be unique (the primary key) so ties are broken the same way on every page.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import pagination, serializers
from rest_framework.exceptions import NotFound, ValidationError

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class CursorPagination(pagination.CursorPagination):
    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_ordering(self, request, queryset, view):
        if not queryset.query.order_by:
            raise ValueError("Cursor pagination needs an ordered queryset ending on a unique field.")
        return tuple(queryset.query.order_by)

    def get_page_size(self, request):
        """A page size that is not a whole number from 1 to MAX_PAGE_SIZE is refused, not silently replaced."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        field = serializers.IntegerField(min_value=1, max_value=self.max_page_size)
        try:
            return field.run_validation(raw)
        except ValidationError as error:
            raise ValidationError({self.page_size_query_param: error.detail}) from error

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound as error:
            raise _invalid_cursor() from error

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except (ValueError, TypeError, DjangoValidationError) as error:
            # A well-formed cursor whose position is not a value of the ordering field
            # (made by hand, or from another ordering) fails when the position is compared.
            if request.query_params.get(self.cursor_query_param):
                raise _invalid_cursor() from error
            raise


def _invalid_cursor() -> ValidationError:
    return ValidationError({"cursor": ["Invalid cursor: use the next or previous link of a page as it is."]})


CURSOR_PAGINATION_PARAMETERS = [
    OpenApiParameter(
        "cursor",
        str,
        description="Opaque position from a page's `next` or `previous` link; omit it for the first page.",
    ),
    OpenApiParameter(
        "page_size",
        int,
        description=f"Items per page, 1 to {MAX_PAGE_SIZE}; {DEFAULT_PAGE_SIZE} when omitted.",
    ),
]


def cursor_page_serializer(name: str, item_serializer: serializers.Serializer):
    """The schema of one page of `item_serializer` items."""
    return inline_serializer(
        name,
        fields={
            "next": serializers.URLField(allow_null=True, help_text="The next page, or null on the last page."),
            "previous": serializers.URLField(
                allow_null=True, help_text="The previous page, or null on the first page."
            ),
            "results": item_serializer,
        },
    )
