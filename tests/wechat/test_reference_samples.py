"""Our WeChat fixtures (tests/fixtures/wechat/) against the reference samples of the project's shared folder.

The tests read our fixtures, so a clone alone runs them. These checks hold the fixtures to the
reference: the same fields and columns, and our parsers read both the same way. Without the shared
folder they are skipped with the reason; under CI=true its absence fails them.
"""

import time
import xml.etree.ElementTree as ElementTree
from urllib.parse import urlencode

import pytest

from wechat.models import OfficialAccount
from wechat.pay.bill import BillReader
from wechat.pay.gateway import payment_gateway
from wechat.pay.signing import HMAC_SHA256, MD5, signature_valid
from wechat.signals import official_account_message_received
from wechat_sandbox.official_account_push import signature

SAMPLE_KEY = "sandboxapikey0000000000000000000"
NOTIFICATIONS = [("pay-notify-md5.xml", MD5), ("pay-notify-hmac-sha256.xml", HMAC_SHA256)]


def fields(xml: bytes) -> dict[str, str]:
    return {element.tag: element.text or "" for element in ElementTree.fromstring(xml)}


def element_paths(element: ElementTree.Element, prefix: str = "") -> set[str]:
    path = f"{prefix}/{element.tag}"
    return {path}.union(*(element_paths(child, path) for child in element))


@pytest.mark.parametrize(("name", "sign_type"), NOTIFICATIONS)
def test_a_reference_notification_and_ours_carry_the_same_fields_and_both_verify(
    wechat_sample, wechat_reference_sample, name, sign_type
):
    ours, reference = fields(wechat_sample(name)), fields(wechat_reference_sample(name))

    assert set(ours) == set(reference)
    assert signature_valid(reference, SAMPLE_KEY, sign_type) and signature_valid(ours, SAMPLE_KEY, sign_type)


@pytest.mark.parametrize(("name", "sign_type"), NOTIFICATIONS)
def test_our_gateway_reads_a_reference_notification_as_it_reads_ours(
    settings, wechat_sample, wechat_reference_sample, name, sign_type
):
    settings.WECHAT_PAY_API_KEY = SAMPLE_KEY
    gateway = payment_gateway()

    ours = gateway.notification_verify(wechat_sample(name), sign_type)
    reference = gateway.notification_verify(wechat_reference_sample(name), sign_type)

    assert (reference.out_trade_no, reference.transaction_id, reference.total_fee, reference.result_code) == (
        ours.out_trade_no,
        ours.transaction_id,
        ours.total_fee,
        ours.result_code,
    )


def test_the_reference_bill_reads_as_ours_does(wechat_sample, wechat_reference_sample):
    ours_text = wechat_sample("bill-sample.csv").decode()
    reference_text = wechat_reference_sample("bill-sample.csv").decode()
    ours, reference = BillReader(ours_text.split("\r\n")), BillReader(reference_text.split("\r\n"))

    assert list(reference) == list(ours)
    assert reference_text.split("\r\n")[0] == ours_text.split("\r\n")[0]  # the 27-column header, by name
    assert (reference.totals.columns, reference.totals.trade_count, reference.totals.summary_fen) == (
        ours.totals.columns,
        ours.totals.trade_count,
        ours.totals.summary_fen,
    )
    assert reference.totals.mismatches() == ours.totals.mismatches() == []


def test_the_reference_massjobfinish_has_our_elements_and_our_inbox_reads_the_same_counts(
    client, wechat_sample, wechat_reference_sample, db
):
    ours, reference = wechat_sample("massjobfinish-sample.xml"), wechat_reference_sample("massjobfinish-sample.xml")
    assert element_paths(ElementTree.fromstring(reference)) == element_paths(ElementTree.fromstring(ours))
    account = OfficialAccount.objects.create(
        name="Tea House",
        appid="wx00000000000000aa",
        app_secret="oa-secret",
        account_type=OfficialAccount.AccountType.SUBSCRIPTION,
        callback_token="callbackToken42",
        encoding_aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        message_mode="plain",
    )
    received: list[dict] = []

    def collect(sender, account, message, **kwargs):
        received.append(message)

    official_account_message_received.connect(collect, weak=False)
    try:
        for body in (ours, reference):
            timestamp, nonce = str(int(time.time())), "8431"
            token_signature = signature(account.callback_token, timestamp, nonce)
            query = {"timestamp": timestamp, "nonce": nonce, "signature": token_signature}
            answer = client.post(f"/wechat/oa/{account.appid}/?{urlencode(query)}", data=body, content_type="text/xml")
            assert answer.content == b"success"
    finally:
        official_account_message_received.disconnect(collect)

    counted = ("Event", "MsgID", "Status", "TotalCount", "FilterCount", "SentCount", "ErrorCount", "ArticleUrlResult")
    ours_read, reference_read = received
    assert {name: reference_read[name] for name in counted} == {name: ours_read[name] for name in counted}
