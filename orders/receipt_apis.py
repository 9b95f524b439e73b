"""POST /api/v1/orders/<order_no>/confirm-receipt: the buyer says the order arrived."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from orders.apis import CONFLICT_RESPONSES, OrderDetailOutputSerializer
from orders.selectors import order_for_customer
from orders.services.completion import order_receipt_confirm


class OrderConfirmReceiptApi(APIView):
    @extend_schema(
        operation_id="orders_confirm_receipt",
        summary="Confirm I received my order; it is completed",
        description=(
            "Allowed once the order has shipped (status shipped, or partially_refunded after shipping); "
            "a completed order answers as it is. 409 `order_not_shipped` before it ships; 404 `not_found` "
            "for an order that is not the caller's."
        ),
        request=None,
        responses={200: OrderDetailOutputSerializer, **CONFLICT_RESPONSES},
    )
    def post(self, request, order_no: str):
        order_receipt_confirm(customer=request.user, order_no=order_no)
        order = order_for_customer(customer=request.user, order_no=order_no)
        return Response(OrderDetailOutputSerializer(order, context={"request": request}).data)
