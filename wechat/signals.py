"""How wechat/ tells business apps about inbound WeChat traffic without importing them."""

from django.dispatch import Signal

# A verified, decrypted message or event from an Official Account's followers or from WeChat
# (subscribe, MASSSENDJOBFINISH, PUBLISHJOBFINISH, ...). Sent with `account` (an OfficialAccount)
# and `message` (the XML as a dict; nested elements as dicts). WeChat retries a push it thinks
# unanswered, and retries can overlap: receivers must be idempotent.
official_account_message_received = Signal()

# The same push, when it is an event business apps act on, read by wechat.official_account_events:
# sent with `account` and `event` (a MassSendJobResult, PublicationResult or FollowerSubscriptionChange)
# by the event's class, so a receiver connects with `sender=` the one kind it handles. Idempotent too.
official_account_event_received = Signal()

# A verified, decrypted push to the Mini Program's message push URL (消息推送), sent with `appid` and
# `message` (the XML as a dict). The shipping service's trade_manage_order_settlement comes this way
# (wechat.miniprogram_push.order_settlement_from_message reads it). Retried by WeChat: be idempotent.
mini_program_event_received = Signal()
