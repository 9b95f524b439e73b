from django.apps import AppConfig


class ArticlesConfig(AppConfig):
    name = "articles"

    def ready(self) -> None:
        from articles.delivery_receivers import delivery_event_received
        from articles.services.followers import follower_event_received
        from wechat.signals import official_account_message_received

        official_account_message_received.connect(follower_event_received, dispatch_uid="articles.followers")
        official_account_message_received.connect(delivery_event_received, dispatch_uid="articles.delivery")
