"""Storefront reads for the Mini Program: public, cacheable, answered in a fixed number of queries."""

import re
from urllib.parse import urlsplit

from django.core.files.storage import default_storage
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.selectors import (
    PRODUCT_ORDERINGS,
    ProductFilters,
    category_tree,
    storefront_categories,
    storefront_product,
    storefront_products,
)
from catalog.storefront_caching import (
    STOREFRONT_MAX_AGE_SECONDS,
    product_detail_cached,
    product_list_cached,
    storefront_cached,
)
from config.api_schema import ERROR_RESPONSES, ErrorSerializer
from config.pagination import CURSOR_PAGINATION_PARAMETERS, CursorPagination, cursor_page_serializer

STOREFRONT_CACHING = (
    f"Public and cacheable: answers carry `Cache-Control: public, max-age={STOREFRONT_MAX_AGE_SECONDS}` and an "
    "`ETag`; send it back as `If-None-Match` to get `304 Not Modified` while nothing changed. Answers may be "
    f"up to {STOREFRONT_MAX_AGE_SECONDS} s old; stock is checked again when an order is placed."
)
NOT_MODIFIED = OpenApiResponse(description="Not modified: the `ETag` sent in `If-None-Match` still matches.")
# An <img> whose src is a path on our host (not //host/..., not a full URL).
_ROOT_RELATIVE_IMAGE_SOURCE = re.compile(r'(<img\b[^>]*?\ssrc=")(/(?!/)[^"]*)')
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such product, or it is off shelf")


def _absolute_media_url(origin: str, name: str | None) -> str | None:
    """The file's URL with the request's scheme and host; storages that answer absolute URLs keep theirs."""
    if not name:
        return None
    url = default_storage.url(name)
    return url if urlsplit(url).scheme else origin + url


def _serializer_context(request) -> dict:
    # The origin once per request, not once per image URL: a list page builds many image URLs.
    return {"origin": f"{request.scheme}://{request.get_host()}"}


class PublicApi(APIView):
    """Public reads, the same for every shopper."""

    authentication_classes = []
    permission_classes = [AllowAny]


class StorefrontApi(PublicApi):
    """Public reads kept briefly by phones, proxies and our caches."""

    @classmethod
    def as_view(cls, **initkwargs):
        # Wrapped once here: method_decorator on dispatch would build the wrapper again on every request.
        return storefront_cached(super().as_view(**initkwargs))


class CategoryNodeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.SlugField()


# Each node's children are nodes too; declared after the class so the schema can refer to itself.
CategoryNodeSerializer._declared_fields["children"] = CategoryNodeSerializer(
    many=True, help_text="Subcategories in display order."
)


class CategoryTreeApi(StorefrontApi):
    @extend_schema(
        operation_id="catalog_categories",
        summary="The category tree",
        description="Active categories, roots first, each with its `children` in display order. " + STOREFRONT_CACHING,
        responses={200: CategoryNodeSerializer(many=True), 304: NOT_MODIFIED, **ERROR_RESPONSES},
        examples=[
            OpenApiExample(
                "Two roots, one with a subcategory",
                value=[
                    {
                        "id": 1,
                        "name": "茶与茶具",
                        "slug": "tea",
                        "children": [{"id": 4, "name": "普洱", "slug": "puer", "children": []}],
                    },
                    {"id": 2, "name": "餐厨", "slug": "kitchen", "children": []},
                ],
                response_only=True,
            )
        ],
    )
    def get(self, request):
        return Response(CategoryNodeSerializer(category_tree(), many=True).data)


class ProductListApi(PublicApi):
    """Kept briefly by phones and proxies, and by our shared cache until the catalog changes."""

    @classmethod
    def as_view(cls, **initkwargs):
        return product_list_cached(super().as_view(**initkwargs))

    class InputSerializer(serializers.Serializer):
        category = serializers.PrimaryKeyRelatedField(
            queryset=storefront_categories(),
            required=False,
            help_text="A category id; products in its subcategories are included.",
        )
        q = serializers.CharField(
            required=False,
            max_length=50,
            allow_blank=True,
            help_text="Keyword: matches any part of the title or subtitle, e.g. 马克杯.",
        )
        price_min = serializers.IntegerField(
            required=False, min_value=0, help_text="Lowest price in fen (of the product's cheapest SKU)."
        )
        price_max = serializers.IntegerField(
            required=False, min_value=0, help_text="Highest price in fen (of the product's cheapest SKU)."
        )
        in_stock = serializers.BooleanField(
            required=False,
            allow_null=True,
            default=None,
            help_text="true: only products with a SKU in stock; false: only sold-out products.",
        )
        ordering = serializers.ChoiceField(
            choices=list(PRODUCT_ORDERINGS),
            default="newest",
            help_text="price / -price: by the cheapest SKU's price; sales / -sales: by units sold; newest first.",
        )

        def validate(self, data):
            if data.get("price_min") is not None and data.get("price_max") is not None:
                if data["price_min"] > data["price_max"]:
                    raise serializers.ValidationError({"price_max": ["Must not be below price_min."]})
            return data

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        title = serializers.CharField()
        subtitle = serializers.CharField()
        category_id = serializers.IntegerField()
        price_fen = serializers.IntegerField(
            source="display_price_fen", help_text="The cheapest active SKU's price in fen."
        )
        list_price_fen = serializers.IntegerField(
            allow_null=True, help_text="That SKU's crossed-out list price in fen, or null."
        )
        in_stock = serializers.BooleanField(help_text="Whether any active SKU has stock.")
        sales_count = serializers.IntegerField()
        thumbnail = serializers.SerializerMethodField(help_text="375 px square image for the list, absolute URL.")

        @extend_schema_field(OpenApiTypes.URI)
        def get_thumbnail(self, product) -> str | None:
            return _absolute_media_url(self.context["origin"], product.cover_thumbnail)

    @extend_schema(
        operation_id="catalog_products",
        summary="Products on shelf",
        description="Filtered, ordered and paginated by cursor. Bad filter values are a 400 naming each field. "
        + STOREFRONT_CACHING,
        parameters=[InputSerializer, *CURSOR_PAGINATION_PARAMETERS],
        responses={
            200: cursor_page_serializer("ProductListPage", OutputSerializer(many=True)),
            304: NOT_MODIFIED,
            **ERROR_RESPONSES,
        },
        examples=[
            OpenApiExample(
                "A page",
                value={
                    "next": "https://shop.example.com/api/v1/catalog/products?cursor=cD0yMDI2LTExLTIz",
                    "previous": None,
                    "results": [
                        {
                            "id": 7,
                            "title": "景德镇手作陶瓷马克杯",
                            "subtitle": "月白与青瓷两色",
                            "category_id": 2,
                            "price_fen": 3990,
                            "list_price_fen": 5990,
                            "in_stock": True,
                            "sales_count": 128,
                            "thumbnail": "https://shop.example.com/media/catalog/thumbnails/mug-list.jpg",
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        serializer = self.InputSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        query = serializer.validated_data
        filters = ProductFilters(
            category=query.get("category"),
            keyword=query.get("q", "").strip(),
            price_min_fen=query.get("price_min"),
            price_max_fen=query.get("price_max"),
            in_stock=query["in_stock"],
            ordering=query["ordering"],
        )
        paginator = CursorPagination()
        page = paginator.paginate_queryset(storefront_products(filters=filters), request, view=self)
        return paginator.get_paginated_response(
            self.OutputSerializer(page, many=True, context=_serializer_context(request)).data
        )


class ProductImageOutputSerializer(serializers.Serializer):
    """A product photo; images uploaded before thumbnails existed show the original in their place."""

    url = serializers.SerializerMethodField(help_text="The original upload, absolute URL.")
    list_thumbnail = serializers.SerializerMethodField(help_text="375 px square, for lists; absolute URL.")
    detail_thumbnail = serializers.SerializerMethodField(help_text="750 px wide, for the detail page; absolute URL.")

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, image) -> str:
        return _absolute_media_url(self.context["origin"], image.image.name)

    @extend_schema_field(OpenApiTypes.URI)
    def get_list_thumbnail(self, image) -> str:
        return _absolute_media_url(self.context["origin"], image.list_thumbnail.name or image.image.name)

    @extend_schema_field(OpenApiTypes.URI)
    def get_detail_thumbnail(self, image) -> str:
        return _absolute_media_url(self.context["origin"], image.detail_thumbnail.name or image.image.name)


class SkuOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    specs = serializers.DictField(child=serializers.CharField(), help_text='What sets it apart, e.g. {"颜色": "月白"}.')
    price_fen = serializers.IntegerField()
    list_price_fen = serializers.IntegerField(allow_null=True, help_text="Crossed-out price in fen, or null.")
    stock = serializers.IntegerField()
    available = serializers.SerializerMethodField(help_text="Whether it can be bought now (it has stock).")
    image = serializers.SerializerMethodField(
        help_text="The SKU's own photo (e.g. its colour), 375 px square, absolute URL; null when it has none."
    )

    def get_available(self, sku) -> bool:
        return sku.stock > 0  # inactive SKUs are never listed

    @extend_schema_field(OpenApiTypes.URI)
    def get_image(self, sku) -> str | None:
        return _absolute_media_url(self.context["origin"], sku.image_thumbnail.name or sku.image.name)


class CategoryReferenceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ProductDetailApi(PublicApi):
    """Kept briefly by phones and proxies, and by our shared cache until the product changes."""

    @classmethod
    def as_view(cls, **initkwargs):
        return product_detail_cached(super().as_view(**initkwargs))

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        title = serializers.CharField()
        subtitle = serializers.CharField()
        description = serializers.SerializerMethodField(
            help_text="HTML in a safe subset, for the Mini Program's <rich-text>; its images have absolute URLs."
        )
        category = CategoryReferenceSerializer()
        sales_count = serializers.IntegerField()
        images = ProductImageOutputSerializer(many=True, help_text="The main image first.")
        skus = SkuOutputSerializer(many=True, help_text="Active SKUs, cheapest first.")

        @extend_schema_field(OpenApiTypes.STR)
        def get_description(self, product) -> str:
            # The editor stores our own images by path (/media/...); <rich-text> has no page to resolve it against.
            return _ROOT_RELATIVE_IMAGE_SOURCE.sub(
                lambda found: f"{found.group(1)}{self.context['origin']}{found.group(2)}", product.description
            )

    @extend_schema(
        operation_id="catalog_product",
        summary="One product with its images and SKUs",
        description="Off-shelf products are a 404; inactive SKUs are left out. " + STOREFRONT_CACHING,
        responses={200: OutputSerializer, 304: NOT_MODIFIED, **ERROR_RESPONSES, 404: NOT_FOUND},
        examples=[
            OpenApiExample(
                "A mug in two colours",
                value={
                    "id": 7,
                    "title": "景德镇手作陶瓷马克杯",
                    "subtitle": "月白与青瓷两色",
                    "description": "<p>景德镇匠人手工拉坯。</p>",
                    "category": {"id": 2, "name": "餐厨"},
                    "sales_count": 128,
                    "images": [
                        {
                            "url": "https://shop.example.com/media/catalog/mug.jpg",
                            "list_thumbnail": "https://shop.example.com/media/catalog/thumbnails/mug-list.jpg",
                            "detail_thumbnail": "https://shop.example.com/media/catalog/thumbnails/mug-detail.jpg",
                        }
                    ],
                    "skus": [
                        {
                            "id": 11,
                            "specs": {"颜色": "月白", "容量": "350ml"},
                            "price_fen": 3990,
                            "list_price_fen": 5990,
                            "stock": 120,
                            "available": True,
                            "image": "https://shop.example.com/media/catalog/thumbnails/mug-white-list.jpg",
                        },
                        {
                            "id": 12,
                            "specs": {"颜色": "青瓷", "容量": "350ml"},
                            "price_fen": 4500,
                            "list_price_fen": None,
                            "stock": 0,
                            "available": False,
                            "image": None,
                        },
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request, product_id: int):
        product = storefront_product(product_id=product_id)
        if product is None:
            raise Http404(_("No such product on shelf."))
        return Response(self.OutputSerializer(product, context=_serializer_context(request)).data)
