"""The events pushed to an Official Account that business apps act on, read into dataclasses.

Receivers of wechat.signals.official_account_event_received get these, never WeChat's XML.
"""

from wechat.official_account_followers import (
    SUBSCRIPTION_EVENTS,
    FollowerSubscriptionChange,
    follower_subscription_change_from_message,
)
from wechat.official_account_mass_send import MassSendJobResult, mass_send_job_result_from_message
from wechat.official_account_publishing import PublicationResult, publication_result_from_message

OfficialAccountEvent = MassSendJobResult | PublicationResult | FollowerSubscriptionChange


def official_account_event_from_message(message: dict) -> OfficialAccountEvent | None:
    """The event a pushed message carries, or None for a message or an event no app acts on.

    ValueError for one of these events without the fields that make it usable.
    """
    if message.get("MsgType") != "event":
        return None
    event = str(message.get("Event", ""))
    if event.upper() == "MASSSENDJOBFINISH":
        return mass_send_job_result_from_message(message)
    if event.upper() == "PUBLISHJOBFINISH":
        return publication_result_from_message(message)
    if event.lower() in SUBSCRIPTION_EVENTS:
        return follower_subscription_change_from_message(message)
    return None
