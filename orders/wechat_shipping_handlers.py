"""WeChat's shipping-service pushes, handed to the completion service (wechat/ tells us through a signal)."""

import logging

from orders.services.completion import order_complete_from_wechat
from wechat.miniprogram_push import order_settlement_from_message

logger = logging.getLogger(__name__)


def mini_program_event_handle(sender, *, appid: str, message: dict, **kwargs) -> None:
    settlement = order_settlement_from_message(message)
    if settlement is None:
        return
    order = order_complete_from_wechat(settlement=settlement)
    if order is None and settlement.receipt_confirmed:
        logger.warning("receipt confirmed in WeChat for a payment we do not know: %s", settlement.transaction_id)
