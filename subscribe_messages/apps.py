from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubscribeMessagesConfig(AppConfig):
    name = "subscribe_messages"
    verbose_name = _("Subscribe messages")

    def ready(self) -> None:
        from orders.signals import order_status_entered
        from subscribe_messages.receivers import order_status_entered_notify

        order_status_entered.connect(order_status_entered_notify, dispatch_uid="subscribe-messages-order-status")
