"""WeChat Pay APIv3 trade bills (/v3/bill/tradebill → download_url), read by header name like v2's.

Format, from 微信支付 APIv3 文档, 下载账单 / 交易账单详细说明
(https://pay.weixin.qq.com/docs/merchant/products/bill-download/format-trade.html):
- four parts: the detail header, the detail rows, the summary header, the summary row; fields
  separated by ASCII commas, and every field of the detail and summary rows preceded by one
  backtick (`) so spreadsheets keep long numbers;
- the ALL bill's detail header: 交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,
  用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,
  退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,
  费率备注; its summary header: 总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,
  订单总金额,申请退款总金额;
- the REFUND bill adds 退款申请时间 and 退款成功时间, the SUCCESS bill has no refund columns (we ask
  for ALL: a day's payments and refunds together);
- "少部分商户目前的账单格式停留在历史早期版本": no 应结订单金额 (the early 总金额) and no 代金券金额
  (the early 企业红包金额), so the early names are read too;
- amounts in yuan; 交易时间 is when the payment succeeded or the refund was asked for, yyyy-MM-dd
  HH:mm:ss, Beijing time. The file's SHA1 (hash_value) is checked by the download, not here.

The ALL bill names its columns as v2's 27-column bill does, so the same reader reads it with this
table; a merchant's API version chooses the table (`bill_reader_for`), and a change WeChat documents
for one version is a change to its table alone.
"""

from collections.abc import Iterable
from typing import Literal

from wechat.pay.bill import V2_TRADE_BILL, BillLayout, BillReader

V3_TRADE_BILL = BillLayout(
    name="v3 /v3/bill/tradebill",
    row_columns={
        "traded_at": ("交易时间",),
        "transaction_id": ("微信订单号",),
        "out_trade_no": ("商户订单号",),
        "trade_state": ("交易状态",),
        # 订单金额: what the order cost (our total_fee); the early layout's 总金额.
        "order_yuan": ("订单金额", "总金额"),
        # 应结订单金额: the order less non-refillable coupons; the early layout's 总金额.
        "settlement_yuan": ("应结订单金额", "总金额"),
        "refund_id": ("微信退款单号",),
        "out_refund_no": ("商户退款单号",),
        # 申请退款金额: the refund asked for (our refund amount); the early layout's 退款金额.
        "refund_requested_yuan": ("申请退款金额", "退款金额"),
        "refund_yuan": ("退款金额",),
        "refund_status": ("退款状态",),
    },
    summary_figures={
        "settlement": ("应结订单总金额", "总交易额"),
        "refund": ("退款总金额", "总退款金额"),
        "order": ("订单总金额",),
        "refund_requested": ("申请退款总金额",),
    },
)
BILL_LAYOUTS = {"v2": V2_TRADE_BILL, "v3": V3_TRADE_BILL}


def bill_reader_for(lines: Iterable[str], *, api_version: Literal["v2", "v3"]) -> BillReader:
    """A reader of a trade bill in the layout of the merchant's WeChat Pay API version."""
    try:
        layout = BILL_LAYOUTS[api_version]
    except KeyError:
        raise ValueError(f"no trade bill layout for WeChat Pay API version {api_version!r}") from None
    return BillReader(lines, layout)
