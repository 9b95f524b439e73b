from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ArticlesConfig(AppConfig):
    name = "articles"
    verbose_name = _("Articles")

    def ready(self) -> None:
        from articles.delivery_receivers import mass_send_job_finished, publish_job_finished
        from articles.services.followers import follower_event_received
        from wechat.official_account_followers import FollowerSubscriptionChange
        from wechat.official_account_mass_send import MassSendJobResult
        from wechat.official_account_publishing import PublicationResult
        from wechat.signals import official_account_event_received

        official_account_event_received.connect(
            follower_event_received, sender=FollowerSubscriptionChange, dispatch_uid="articles.followers"
        )
        official_account_event_received.connect(
            mass_send_job_finished, sender=MassSendJobResult, dispatch_uid="articles.delivery.mass_send"
        )
        official_account_event_received.connect(
            publish_job_finished, sender=PublicationResult, dispatch_uid="articles.delivery.publication"
        )
