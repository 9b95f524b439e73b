from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders")

    def ready(self) -> None:
        from orders.pay_notification_handlers import payment_notification_handle, refund_notification_handle
        from wechat.pay.interface import PaymentNotification, RefundNotification
        from wechat.pay.notifications import notification_handler_register

        notification_handler_register(PaymentNotification, payment_notification_handle)
        notification_handler_register(RefundNotification, refund_notification_handle)

        from orders.wechat_shipping_handlers import mini_program_event_handle
        from wechat.signals import mini_program_event_received

        mini_program_event_received.connect(mini_program_event_handle, dispatch_uid="orders-shipping-settlement")
