"""The small picture at the start of an admin list's row (products, SKUs, articles, orders).

Served from our media like every upload, at 40 px and loading="lazy", so a page of a hundred rows
fetches only the pictures scrolled into view. Callers pass the stored name of the smallest file
they have (a list thumbnail where one exists), annotated onto the page's query, never one query a row.
"""

from django.core.files.storage import default_storage
from django.utils.html import format_html
from django.utils.safestring import mark_safe

THUMBNAIL_SIDE_PX = 40


def list_thumbnail_html(*, media_name: str | None) -> str:
    if not media_name:
        return mark_safe('<span class="admin-list-thumbnail is-empty" aria-hidden="true"></span>')
    return format_html(
        '<img class="admin-list-thumbnail" src="{}" width="{}" height="{}" alt="" loading="lazy" decoding="async"'
        ' style="object-fit: cover; border-radius: 4px">',
        default_storage.url(media_name),
        THUMBNAIL_SIDE_PX,
        THUMBNAIL_SIDE_PX,
    )
