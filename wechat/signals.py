"""How wechat/ tells business apps about inbound WeChat traffic without importing them."""

from django.dispatch import Signal

# A verified, decrypted message or event from an Official Account's followers or from WeChat
# (subscribe, MASSSENDJOBFINISH, PUBLISHJOBFINISH, ...). Sent with `account` (an OfficialAccount)
# and `message` (the XML as a dict; nested elements as dicts). WeChat retries a push it thinks
# unanswered, and retries can overlap: receivers must be idempotent.
official_account_message_received = Signal()
