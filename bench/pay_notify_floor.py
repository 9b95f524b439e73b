"""The floors of a payment notification, for bench/pay_notify.py: mounted by bench/baseline_urls.py only.

/bench/pay-notify-floor/ writes the notification's id durably and nothing more: it reads the body,
runs one INSERT in its own committed transaction (on Django's connection as production's settings
make it, so with the same kept connection and health check) and answers SUCCESS only after the
commit. It verifies no signature and matches no payment: it measures what the stack (gunicorn,
Django, the middleware) and PostgreSQL's durable commit cost a notification.

/bench/pay-notify-floor-paid/ does what WeChat Pay's documents (支付结果通知) require of any correct
handler, and nothing more: it parses the XML (defusedxml, as the product), verifies the signature
with the API key (hashlib/hmac, the sign type the message names), then in ONE statement (a
function the bench creates), in autocommit on the same connection: locks the order and its
payment by out_trade_no, compares the notified amount with the payment's, marks the payment and
the order paid only while they are pending (so a repeat changes nothing), and inserts the
notification's id ON CONFLICT DO NOTHING; then answers SUCCESS, or FAIL for a message it cannot
verify or place. It writes the product's own tables (orders_order, orders_payment, with their
indexes, which the product's readers need), on orders the bench loaded for it. What it leaves out
is ours: the events, the stored notification's body, the sales count, the product pages' tokens,
the buyer's message, the merchant's row.
"""

import hashlib
import hmac
import re
from datetime import datetime

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from wechat.pay.v2 import build_xml

# Created by bench/pay_notify.py in the bench's own database; a copy's id is already there.
FLOOR_TABLE = "bench_pay_notify_floor"
FLOOR_TABLE_CREATE = f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (transaction_id text PRIMARY KEY)"
# The second floor's notifications, one row per id, beside the product's tables it marks paid.
FLOOR_PAID_TABLE = "bench_pay_notify_floor_paid"
FLOOR_PAID_TABLE_CREATE = f"CREATE TABLE IF NOT EXISTS {FLOOR_PAID_TABLE} (transaction_id text PRIMARY KEY)"
# The id, found without parsing: the floor pays nothing a handler could do without.
TRANSACTION_ID = re.compile(rb"<transaction_id>(?:<!\[CDATA\[)?([0-9A-Za-z_-]{1,64})")
SUCCESS = build_xml({"return_code": "SUCCESS", "return_msg": "OK"}, cdata=True)
FAIL = build_xml({"return_code": "FAIL", "return_msg": "no transaction_id"}, cdata=True)
NOT_VERIFIED = build_xml({"return_code": "FAIL", "return_msg": "not verified"}, cdata=True)
NOT_PLACED = build_xml({"return_code": "FAIL", "return_msg": "not placed"}, cdata=True)
XML = "text/xml; charset=utf-8"


@csrf_exempt
@require_POST
def pay_notify_floor(request) -> HttpResponse:
    found = TRANSACTION_ID.search(request.body)
    if found is None:
        return HttpResponse(FAIL, status=400, content_type=XML)
    # Autocommit: the INSERT is its own transaction, committed (and flushed to the WAL) before the answer.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {FLOOR_TABLE} (transaction_id) VALUES (%s) ON CONFLICT DO NOTHING",
            [found.group(1).decode()],
        )
    return HttpResponse(SUCCESS, content_type=XML)


# One statement, a function the bench creates (as the product's notification is one, orders 0028): a plain
# WITH statement is planned afresh on each call, about 0.4 ms of the backend's CPU, which a handler need not pay.
# The locked read (the order's row first, as every product path locks them), the amount's check, both
# rows paid only while pending (a copy that waited for its original's COMMIT reads the paid rows and
# changes nothing), the id stored once. It answers whether the amount matched, NULL for no such payment.
FLOOR_PAID_FUNCTION = "bench_pay_notify_floor_paid"
FLOOR_PAID_FUNCTION_CREATE = f"""
CREATE OR REPLACE FUNCTION {FLOOR_PAID_FUNCTION}(
    notified_out_trade_no text, notified_transaction_id text, notified_total_fee bigint, notified_paid_at timestamptz
) RETURNS boolean
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    locked_order_id bigint;
    order_status text;
    locked_payment_id bigint;
    payment_status text;
    payment_amount_fen bigint;
BEGIN
    SELECT o.id, o.status, p.id, p.status, p.amount_fen
    INTO locked_order_id, order_status, locked_payment_id, payment_status, payment_amount_fen
    FROM orders_order AS o JOIN orders_payment AS p ON p.order_id = o.id
    WHERE p.out_trade_no = notified_out_trade_no
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF payment_amount_fen = notified_total_fee AND payment_status = 'pending' AND order_status = 'pending_payment' THEN
        UPDATE orders_payment
        SET status = 'paid', transaction_id = notified_transaction_id, paid_at = notified_paid_at
        WHERE id = locked_payment_id;
        UPDATE orders_order SET status = 'paid', paid_at = statement_timestamp() WHERE id = locked_order_id;
    END IF;
    INSERT INTO {FLOOR_PAID_TABLE} (transaction_id) VALUES (notified_transaction_id) ON CONFLICT DO NOTHING;
    RETURN payment_amount_fen = notified_total_fee;
END
$$
"""


@csrf_exempt
@require_POST
def pay_notify_floor_paid(request) -> HttpResponse:
    try:
        fields = {child.tag: child.text or "" for child in fromstring(request.body, forbid_dtd=True)}
    except (ParseError, DefusedXmlException):
        return HttpResponse(NOT_VERIFIED, status=400, content_type=XML)
    if not _signature_valid(fields, settings.WECHAT_PAY_API_KEY):
        return HttpResponse(NOT_VERIFIED, content_type=XML)
    try:
        total_fee = int(fields["total_fee"])
        paid_at = datetime.strptime(fields["time_end"] + "+0800", "%Y%m%d%H%M%S%z")
        arguments = [fields["out_trade_no"], fields["transaction_id"], total_fee, paid_at]
    except (KeyError, ValueError):
        return HttpResponse(NOT_PLACED, content_type=XML)
    if fields.get("result_code") != "SUCCESS":
        return HttpResponse(SUCCESS, content_type=XML)  # not paid: nothing to mark
    # Autocommit: the statement is its own transaction, committed (and flushed to the WAL) before the answer.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {FLOOR_PAID_FUNCTION}(%s, %s, %s, %s)", arguments)
        (matched,) = cursor.fetchone()
    if not matched:
        return HttpResponse(NOT_PLACED, content_type=XML)  # unknown, or not the amount: WeChat resends
    return HttpResponse(SUCCESS, content_type=XML)


def _signature_valid(fields: dict[str, str], api_key: str) -> bool:
    """签名算法: the non-empty fields but `sign`, sorted, `k=v&...&key=API_KEY`, MD5 or HMAC-SHA256, upper hex."""
    text = "&".join(f"{name}={fields[name]}" for name in sorted(fields) if name != "sign" and fields[name])
    text = f"{text}&key={api_key}".encode()
    if fields.get("sign_type", "MD5") == "HMAC-SHA256":
        digest = hmac.new(api_key.encode(), text, hashlib.sha256).hexdigest()
    else:
        digest = hashlib.md5(text).hexdigest()
    return hmac.compare_digest(digest.upper(), fields.get("sign", ""))
