"""Delivery results from WeChat's pushes to the Official Account endpoint, handed to the delivery services.

Receivers of wechat.signals.official_account_event_received, each connected for its one kind of event.
"""

from articles.services.delivery import mass_send_job_finished_record, publish_job_finished_record
from wechat.official_account_mass_send import MassSendJobResult
from wechat.official_account_publishing import PublicationResult


def mass_send_job_finished(sender, *, account, event: MassSendJobResult, **kwargs) -> None:
    mass_send_job_finished_record(account=account, result=event)


def publish_job_finished(sender, *, account, event: PublicationResult, **kwargs) -> None:
    publish_job_finished_record(account=account, result=event)
