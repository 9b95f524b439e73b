from django.urls import path

from orders.apis import (
    AddressDetailApi,
    AddressesApi,
    CartApi,
    CartItemCreateApi,
    CartItemDetailApi,
    OrderCancelApi,
    OrderCheckPaymentApi,
    OrderDetailApi,
    OrderPayApi,
    OrdersApi,
)
from orders.receipt_apis import OrderConfirmReceiptApi

urlpatterns = [
    path("cart", CartApi.as_view(), name="cart"),
    path("cart/items", CartItemCreateApi.as_view(), name="cart-items"),
    path("cart/items/<int:cart_item_id>", CartItemDetailApi.as_view(), name="cart-item"),
    path("addresses", AddressesApi.as_view(), name="addresses"),
    path("addresses/<int:address_id>", AddressDetailApi.as_view(), name="address"),
    path("orders", OrdersApi.as_view(), name="orders"),
    path("orders/<str:order_no>", OrderDetailApi.as_view(), name="order"),
    path("orders/<str:order_no>/cancel", OrderCancelApi.as_view(), name="order-cancel"),
    path("orders/<str:order_no>/pay", OrderPayApi.as_view(), name="order-pay"),
    path("orders/<str:order_no>/check-payment", OrderCheckPaymentApi.as_view(), name="order-check-payment"),
    path("orders/<str:order_no>/confirm-receipt", OrderConfirmReceiptApi.as_view(), name="order-confirm-receipt"),
]
