"""Delivery results from WeChat's pushes to the Official Account endpoint, handed to the delivery services."""

from articles.services.delivery import mass_send_job_finished_record, publish_job_finished_record


def delivery_event_received(sender, *, account, message: dict, **kwargs) -> None:
    """Receiver of wechat.signals.official_account_message_received: only the two job-finished events."""
    if message.get("MsgType") != "event":
        return
    event = str(message.get("Event", "")).upper()
    if event == "MASSSENDJOBFINISH":
        mass_send_job_finished_record(account=account, message=message)
    elif event == "PUBLISHJOBFINISH":
        publish_job_finished_record(account=account, message=message)
