from datetime import datetime

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from campaigns.sources import source_campaign_field, source_path_field, source_scene_field
from config.api_schema import ERROR_RESPONSES, ErrorSerializer
from orders.carriers import carrier_english_name
from orders.models import MAX_LINE_QUANTITY, OrderActor, OrderStatus
from orders.order_create_input import MAX_ITEMS, MAX_NOTE_LENGTH, order_create_input_plain
from orders.selectors import (
    Unavailability,
    address_for_customer,
    addresses_for_customer,
    cart_for_customer,
    cart_item_for_customer,
    order_for_customer,
    orders_for_customer,
)
from orders.services.addresses import address_create, address_delete, address_update
from orders.services.cart import cart_item_add, cart_item_delete, cart_item_update
from orders.services.idempotency import idempotency_key_validate
from orders.services.payments import order_payment_check
from orders.services.placement import OrderSource, order_place
from orders.services.prepay import payment_prepay
from orders.services.status import order_cancel

# Ids are 64-bit; a larger number is refused as invalid, not passed to the database.
MAX_ID = 2**63 - 1

NOT_FOUND_RESPONSES = {**ERROR_RESPONSES, 404: OpenApiResponse(ErrorSerializer, description="Not found, or not yours")}
CONFLICT_RESPONSES = {
    **NOT_FOUND_RESPONSES,
    409: OpenApiResponse(ErrorSerializer, description="Refused by the stock, the SKU or the order's status"),
}


class ImageUrlField(serializers.CharField):
    """A stored image path or URL, made absolute for the Mini Program; empty when there is none."""

    def to_representation(self, value):
        if not value:
            return ""
        request = self.context.get("request")
        return request.build_absolute_uri(value) if request else value


class RegionSerializer(serializers.Serializer):
    province = serializers.CharField(max_length=32)
    city = serializers.CharField(max_length=32)
    district = serializers.CharField(max_length=32)


class SpecsField(serializers.DictField):
    def __init__(self, **kwargs):
        super().__init__(child=serializers.CharField(), help_text='e.g. {"color": "white"}', **kwargs)


# --- Cart -------------------------------------------------------------------


class CartOutputSerializer(serializers.Serializer):
    class LineSerializer(serializers.Serializer):
        id = serializers.IntegerField(help_text="The cart item id, for PATCH/DELETE cart/items/<id>.")
        sku_id = serializers.IntegerField()
        title = serializers.CharField()
        specs = SpecsField()
        image = ImageUrlField()
        price_fen = serializers.IntegerField(help_text="Today's price.")
        quantity = serializers.IntegerField()
        subtotal_fen = serializers.IntegerField()
        stock = serializers.IntegerField()
        available = serializers.BooleanField(help_text="Whether this line can be ordered as it stands.")
        unavailable_reason = serializers.ChoiceField(
            choices=[Unavailability.OFF_SHELF, Unavailability.OUT_OF_STOCK, Unavailability.INSUFFICIENT_STOCK],
            allow_null=True,
            help_text="Why not: off_shelf, out_of_stock, or insufficient_stock (fewer left than the quantity).",
        )

    items = LineSerializer(many=True, source="lines")
    subtotal_fen = serializers.IntegerField(help_text="Total of the available lines.")


def _cart_response(request, *, status_code: int = status.HTTP_200_OK) -> Response:
    cart = cart_for_customer(customer=request.user)
    return Response(CartOutputSerializer(cart, context={"request": request}).data, status=status_code)


class CartApi(APIView):
    @extend_schema(operation_id="cart", summary="My cart", responses={200: CartOutputSerializer, **ERROR_RESPONSES})
    def get(self, request):
        return _cart_response(request)


class CartItemCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        sku_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
        quantity = serializers.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY)

    @extend_schema(
        operation_id="cart_items_add",
        summary="Add a SKU to my cart (to its line, if already there)",
        request=InputSerializer,
        responses={201: CartOutputSerializer, **CONFLICT_RESPONSES},
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        cart_item_add(customer=request.user, **serializer.validated_data)
        return _cart_response(request, status_code=status.HTTP_201_CREATED)


class CartItemDetailApi(APIView):
    class InputSerializer(serializers.Serializer):
        quantity = serializers.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY)

    @extend_schema(
        operation_id="cart_items_update",
        summary="Set a cart line's quantity",
        request=InputSerializer,
        responses={200: CartOutputSerializer, **NOT_FOUND_RESPONSES},
    )
    def patch(self, request, cart_item_id: int):
        cart_item = cart_item_for_customer(customer=request.user, cart_item_id=cart_item_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        cart_item_update(cart_item=cart_item, quantity=serializer.validated_data["quantity"])
        return _cart_response(request)

    @extend_schema(
        operation_id="cart_items_delete",
        summary="Remove a line from my cart",
        responses={204: None, **NOT_FOUND_RESPONSES},
    )
    def delete(self, request, cart_item_id: int):
        cart_item_delete(cart_item=cart_item_for_customer(customer=request.user, cart_item_id=cart_item_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Addresses --------------------------------------------------------------

PHONE_PATTERN = r"^\+?[0-9][0-9 -]{4,18}[0-9]$"


class AddressOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    recipient = serializers.CharField()
    phone = serializers.CharField()
    region = RegionSerializer(source="*")
    detail = serializers.CharField()
    is_default = serializers.BooleanField()


class AddressInputSerializer(serializers.Serializer):
    recipient = serializers.CharField(max_length=32)
    phone = serializers.RegexField(PHONE_PATTERN, max_length=20, help_text="Mobile or landline, digits.")
    region = RegionSerializer()
    detail = serializers.CharField(max_length=200)
    is_default = serializers.BooleanField(required=False, default=False)


class AddressesApi(APIView):
    @extend_schema(
        operation_id="addresses_list",
        summary="My address book, the default first",
        responses={200: AddressOutputSerializer(many=True), **ERROR_RESPONSES},
    )
    def get(self, request):
        return Response(AddressOutputSerializer(addresses_for_customer(customer=request.user), many=True).data)

    @extend_schema(
        operation_id="addresses_create",
        summary="Add an address (the first one becomes the default)",
        request=AddressInputSerializer,
        responses={201: AddressOutputSerializer, **ERROR_RESPONSES},
    )
    def post(self, request):
        serializer = AddressInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        address = address_create(customer=request.user, **serializer.validated_data)
        return Response(AddressOutputSerializer(address).data, status=status.HTTP_201_CREATED)


class AddressDetailApi(APIView):
    class UpdateInputSerializer(AddressInputSerializer):
        # Partial, to the region's parts: {"region": {"district": "..."}} changes only the district.
        region = RegionSerializer(partial=True)
        is_default = serializers.BooleanField(required=False)

    @extend_schema(
        operation_id="addresses_retrieve",
        summary="One of my addresses",
        responses={200: AddressOutputSerializer, **NOT_FOUND_RESPONSES},
    )
    def get(self, request, address_id: int):
        return Response(
            AddressOutputSerializer(address_for_customer(customer=request.user, address_id=address_id)).data
        )

    @extend_schema(
        operation_id="addresses_update",
        summary="Change some fields of an address; is_default: true makes it the default",
        request=UpdateInputSerializer,
        responses={200: AddressOutputSerializer, **NOT_FOUND_RESPONSES},
    )
    def patch(self, request, address_id: int):
        address = address_for_customer(customer=request.user, address_id=address_id)
        serializer = self.UpdateInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        address = address_update(address=address, **serializer.validated_data)
        return Response(AddressOutputSerializer(address).data)

    @extend_schema(
        operation_id="addresses_delete",
        summary="Delete an address (the newest other one becomes the default)",
        responses={204: None, **NOT_FOUND_RESPONSES},
    )
    def delete(self, request, address_id: int):
        address_delete(address=address_for_customer(customer=request.user, address_id=address_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Orders -----------------------------------------------------------------


class OrderLineOutputSerializer(serializers.Serializer):
    sku_id = serializers.IntegerField()
    title = serializers.CharField()
    specs = SpecsField()
    image = ImageUrlField()
    price_fen = serializers.IntegerField(help_text="The price when ordered.")
    quantity = serializers.IntegerField()
    subtotal_fen = serializers.IntegerField()


class OrderAddressOutputSerializer(serializers.Serializer):
    recipient = serializers.CharField()
    phone = serializers.CharField()
    region = RegionSerializer(source="*")
    detail = serializers.CharField(source="address_detail")


class OrderSourceSerializer(serializers.Serializer):
    """Where the shopper came from, as login takes it too (campaigns/sources.py has the rules)."""

    scene = source_scene_field(source="source_scene")
    campaign = source_campaign_field(source="source_campaign")
    path = source_path_field(source="source_path")


class OrderOutputSerializer(serializers.Serializer):
    order_no = serializers.CharField()
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    items = OrderLineOutputSerializer(many=True, source="lines")
    total_fen = serializers.IntegerField()
    address = OrderAddressOutputSerializer(source="*", help_text="The address as it was when ordered.")
    source = OrderSourceSerializer(source="*")
    note = serializers.CharField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(help_text="Unpaid by then, the order expires.")
    paid_at = serializers.DateTimeField(allow_null=True)


class OrderEventOutputSerializer(serializers.Serializer):
    def get_fields(self):
        # "from" is a Python keyword, so the fields are named here rather than declared.
        return {
            # Plain strings: the statuses are listed once, as the order's status enum.
            "from": serializers.CharField(
                source="from_status", allow_null=True, help_text="The status before; null when the order was placed."
            ),
            "to": serializers.CharField(source="to_status", help_text="The status after."),
            "at": serializers.DateTimeField(),
            "by": serializers.ChoiceField(source="actor", choices=OrderActor.choices),
            "reason": serializers.CharField(),
        }

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["from"] = data["from"] or None
        return data


class OrderShipmentOutputSerializer(serializers.Serializer):
    # `carrier` has always been the English name (v1's contract); the code and the Chinese name were added beside it.
    carrier = serializers.SerializerMethodField(help_text="The carrier's English name, e.g. “SF Express”.")
    carrier_code = serializers.CharField(
        source="carrier", help_text="Stable code: sf, zto, yto, yunda, sto, jd, ems, jtexpress, chinapost, deppon."
    )
    carrier_name = serializers.CharField(
        source="get_carrier_display", help_text="The name printed on the waybill, e.g. “顺丰速运”."
    )
    tracking_number = serializers.CharField()
    shipped_at = serializers.DateTimeField()

    def get_carrier(self, order) -> str:
        return carrier_english_name(order.carrier)


class OrderDetailOutputSerializer(OrderOutputSerializer):
    timeline = OrderEventOutputSerializer(many=True, source="events")
    shipment = serializers.SerializerMethodField()

    @extend_schema_field(OrderShipmentOutputSerializer(allow_null=True))
    def get_shipment(self, order) -> dict | None:
        return OrderShipmentOutputSerializer(order).data if order.shipped_at else None


# Field instances for plain values: their to_representation reads no parent or context.
_DATETIME = serializers.DateTimeField()


def order_detail_answer(order, *, request, lines: list | None = None, timeline: list | None = None) -> dict:
    """OrderDetailOutputSerializer's answer for `order`, built without instantiating the serializer.

    DRF deep-copies every declared field of a serializer and of each nested one per instance,
    which cost placing an order over HTTP more than building the answer itself. The serializer
    stays the contract (the schema is made from it); tests/orders/test_order_answer.py holds this
    equal to it for orders in every state. `lines` and `timeline`: the order's, as placing it
    wrote them (no related manager or queryset made to hand them over); else read from the order.
    """
    lines = order.lines.all() if lines is None else lines
    timeline = order.events.all() if timeline is None else timeline
    return {
        "order_no": order.order_no,
        "status": str(order.status),
        "items": [
            {
                "sku_id": line.sku_id,
                "title": line.title,
                "specs": {str(key): None if value is None else str(value) for key, value in line.specs.items()},
                "image": request.build_absolute_uri(line.image) if line.image else "",
                "price_fen": line.price_fen,
                "quantity": line.quantity,
                "subtotal_fen": line.subtotal_fen,
            }
            for line in lines
        ],
        "total_fen": order.total_fen,
        "address": {
            "recipient": order.recipient,
            "phone": order.phone,
            "region": {"province": order.province, "city": order.city, "district": order.district},
            "detail": order.address_detail,
        },
        "source": {"scene": order.source_scene, "campaign": order.source_campaign, "path": order.source_path},
        "note": order.note,
        "created_at": _DATETIME.to_representation(order.created_at),
        "expires_at": _DATETIME.to_representation(order.expires_at),
        "paid_at": _DATETIME.to_representation(order.paid_at),
        "timeline": [
            {
                "from": event.from_status or None,
                "to": event.to_status,
                "at": _DATETIME.to_representation(event.at),
                "by": str(event.actor),
                "reason": event.reason,
            }
            for event in timeline
        ],
        "shipment": OrderShipmentOutputSerializer(order).data if order.shipped_at else None,
    }


class OrderPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = OrderOutputSerializer(many=True)


class OrderCursorPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def decode_cursor(self, request):
        # The cursor is the client's to send back, so a forged position is bad input, not a 500 from the query.
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            try:
                datetime.fromisoformat(cursor.position)
            except ValueError:
                raise NotFound(self.invalid_cursor_message) from None
        return cursor


class OrderListApi(APIView):
    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=OrderStatus.choices, required=False)

    @extend_schema(
        operation_id="orders_list",
        summary="My orders, newest first",
        parameters=[
            FilterSerializer,
            OpenApiParameter("cursor", OpenApiTypes.STR, description="From next or previous of the last page."),
            OpenApiParameter("page_size", OpenApiTypes.INT, description="1 to 100; 20 by default."),
        ],
        responses={200: OrderPageSerializer, **NOT_FOUND_RESPONSES},
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        orders = orders_for_customer(customer=request.user, **filters.validated_data)
        paginator = OrderCursorPagination()
        page = paginator.paginate_queryset(orders, request, view=self)
        return paginator.get_paginated_response(
            OrderOutputSerializer(page, many=True, context={"request": request}).data
        )


class OrderCreateApi(APIView):
    # The name the schema has always given this body, which clients' generated code uses.
    @extend_schema_serializer(component_name="OrdersInput")
    class InputSerializer(serializers.Serializer):
        class ItemSerializer(serializers.Serializer):
            sku_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
            quantity = serializers.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY)

        items = ItemSerializer(many=True, required=False, max_length=MAX_ITEMS, help_text="Order these SKUs, or ...")
        cart_item_ids = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
            required=False,
            max_length=MAX_ITEMS,
            help_text="... order these lines of my cart (they leave the cart).",
        )
        address_id = serializers.IntegerField(
            min_value=1, max_value=MAX_ID, required=False, help_text="From my address book; copied onto the order."
        )
        note = serializers.CharField(max_length=MAX_NOTE_LENGTH, required=False, allow_blank=True, default="")
        source = OrderSourceSerializer(required=False)

        def validate(self, data):
            if "items" in data and "cart_item_ids" in data:
                raise serializers.ValidationError(_("Send items or cart_item_ids, not both."))
            return data

    @extend_schema(
        operation_id="orders_create",
        summary="Place an order; stock is held until it is paid or expires",
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="A new random key (a UUID) per order the shopper places, sent again on every retry of it: "
                "a retry then returns the first order instead of placing another. Up to 64 printable ASCII characters.",
            )
        ],
        request=InputSerializer,
        responses={
            201: OrderDetailOutputSerializer,
            **CONFLICT_RESPONSES,
            422: OpenApiResponse(ErrorSerializer, description="Idempotency-Key reused with a different request"),
        },
    )
    def post(self, request):
        idempotency_key = request.headers.get("Idempotency-Key")
        # Before the body: a request wrong in both is told about its key first.
        idempotency_key_validate(key=idempotency_key)
        # The everyday body is checked by hand; any other goes through the serializer and its errors.
        data = order_create_input_plain(request.data, max_id=MAX_ID, max_quantity=MAX_LINE_QUANTITY)
        if data is None:
            serializer = self.InputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
        source = data.get("source", {})
        placed = order_place(
            customer=request.user,
            address_id=data.get("address_id"),
            items=data.get("items"),
            cart_item_ids=data.get("cart_item_ids"),
            note=data["note"],
            source=OrderSource(
                scene=source.get("source_scene"),
                campaign=source.get("source_campaign", ""),
                path=source.get("source_path", ""),
            ),
            idempotency_key=idempotency_key,
        )
        # The order comes with its lines and timeline: nothing to read again.
        return Response(
            order_detail_answer(placed.order, request=request, lines=placed.lines, timeline=placed.timeline),
            status=status.HTTP_201_CREATED,
        )


class OrdersApi(OrderListApi, OrderCreateApi):
    # One path, two operations: GET /orders is OrderListApi's, POST OrderCreateApi's. No docstring:
    # OPTIONS would show it as the path's description, which has always been empty.
    pass


class OrderDetailApi(APIView):
    class FilterSerializer(serializers.Serializer):
        check_payment = serializers.BooleanField(required=False, default=False)

    @extend_schema(
        operation_id="orders_retrieve",
        summary="One of my orders, with its timeline",
        parameters=[
            OpenApiParameter(
                "check_payment",
                OpenApiTypes.BOOL,
                default=False,
                deprecated=True,
                description="Deprecated, kept until v2 of this API: POST orders/<order_no>/check-payment instead, "
                "which does the same. Send 1 after wx.requestPayment succeeded: if the order still awaits payment "
                "and WeChat Pay's notification has not come, we ask WeChat Pay (orderquery) and the answer shows "
                "the order paid if it is.",
            )
        ],
        responses={200: OrderDetailOutputSerializer, **NOT_FOUND_RESPONSES},
    )
    def get(self, request, order_no: str):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        if filters.validated_data["check_payment"]:
            order = order_payment_check(customer=request.user, order_no=order_no)
        else:
            order = order_for_customer(customer=request.user, order_no=order_no)
        return Response(OrderDetailOutputSerializer(order, context={"request": request}).data)


class OrderCheckPaymentApi(APIView):
    @extend_schema(
        operation_id="orders_check_payment",
        summary="Ask WeChat Pay whether my order is paid, after wx.requestPayment succeeded",
        description="If the order still awaits payment and WeChat Pay's notification has not come, we ask WeChat Pay "
        "(orderquery): the answer is the order, paid if it is. If WeChat Pay cannot be reached, the answer is the "
        "order as it stands, and its notification or a later check tells.",
        request=None,
        responses={200: OrderDetailOutputSerializer, **NOT_FOUND_RESPONSES},
    )
    def post(self, request, order_no: str):
        order = order_payment_check(customer=request.user, order_no=order_no)
        return Response(OrderDetailOutputSerializer(order, context={"request": request}).data)


class OrderPayApi(APIView):
    class OutputSerializer(serializers.Serializer):
        appId = serializers.CharField(help_text="The Mini Program's AppID.")
        timeStamp = serializers.CharField(help_text="Seconds since the epoch, as a string.")
        nonceStr = serializers.CharField()
        package = serializers.CharField(help_text="prepay_id=<the prepay id>")
        signType = serializers.ChoiceField(choices=["MD5", "HMAC-SHA256"])
        paySign = serializers.CharField()

    @extend_schema(
        operation_id="orders_pay",
        summary="Prepay my order with WeChat Pay: the parameters for wx.requestPayment",
        description="Pass the answer as is to wx.requestPayment. Asking again while the prepay is valid returns the "
        "same prepay (package), freshly signed. After paying, POST orders/<order_no>/check-payment.",
        request=None,
        responses={
            200: OpenApiResponse(
                OutputSerializer,
                examples=[
                    OpenApiExample(
                        "JSAPI parameters",
                        value={
                            "appId": "wx2421b1c4370ec43b",
                            "timeStamp": "1795417200",
                            "nonceStr": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
                            "package": "prepay_id=wx2026112315000012345678901234567890",
                            "signType": "MD5",
                            "paySign": "C380BEC2BFD727A4B6845133519F3AD6",
                        },
                    )
                ],
            ),
            **NOT_FOUND_RESPONSES,
            409: OpenApiResponse(
                ErrorSerializer,
                description="order_not_payable: the order is paid, cancelled or expired (or its time to pay is over)",
                examples=[
                    OpenApiExample(
                        "Already paid",
                        value={"code": "order_not_payable", "message": "This order is already paid.", "fields": {}},
                    )
                ],
            ),
            503: OpenApiResponse(
                ErrorSerializer, description="wechat_unavailable: WeChat Pay is busy or refused; try again shortly"
            ),
        },
    )
    def post(self, request, order_no: str):
        order = order_for_customer(customer=request.user, order_no=order_no)
        parameters = payment_prepay(order=order, client_ip=BaseThrottle().get_ident(request))
        return Response(self.OutputSerializer(parameters).data)


class OrderCancelApi(APIView):
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    @extend_schema(
        operation_id="orders_cancel",
        summary="Cancel my order while it awaits payment; its stock returns",
        request=InputSerializer,
        responses={200: OrderDetailOutputSerializer, **CONFLICT_RESPONSES},
    )
    def post(self, request, order_no: str):
        order = order_for_customer(customer=request.user, order_no=order_no)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order_cancel(order=order, actor=OrderActor.CUSTOMER, reason=serializer.validated_data["reason"])
        order = order_for_customer(customer=request.user, order_no=order_no)
        return Response(OrderDetailOutputSerializer(order, context={"request": request}).data)
