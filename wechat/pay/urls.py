from django.urls import path

from wechat.pay.notifications import payment_notify, refund_notify
from wechat.pay.v3_notification_endpoints import payment_notify_v3, refund_notify_v3

# Not namespaced: these names were global before wechat/ routed them, and stay so.
urlpatterns = [
    path("notify/", payment_notify, name="wechat-pay-notify"),
    path("refund-notify/", refund_notify, name="wechat-pay-refund-notify"),
    path("v3/notify/", payment_notify_v3, name="wechat-pay-v3-notify"),
    path("v3/refund-notify/", refund_notify_v3, name="wechat-pay-v3-refund-notify"),
]
