from django.urls import path

from wechat.pay.notifications import payment_notify, refund_notify

# Not namespaced: these names were global before wechat/ routed them, and stay so.
urlpatterns = [
    path("notify/", payment_notify, name="wechat-pay-notify"),
    path("refund-notify/", refund_notify, name="wechat-pay-refund-notify"),
]
