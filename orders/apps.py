from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        from orders.pay_notification_handlers import payment_notification_handle, refund_notification_handle
        from wechat.pay.interface import PaymentNotification, RefundNotification
        from wechat.pay.notifications import notification_handler_register

        notification_handler_register(PaymentNotification, payment_notification_handle)
        notification_handler_register(RefundNotification, refund_notification_handle)
