"""WeChat Pay APIv3 trade bills and platform certificates: /v3/bill/tradebill, its download, /v3/certificates.

Rules, from 微信支付 APIv3 文档:
- 申请交易账单 GET /v3/bill/tradebill?bill_date=yyyy-MM-DD&bill_type=ALL|SUCCESS|REFUND&tar_type=GZIP
  → {"hash_type": "SHA1", "hash_value", "download_url"}; hash_value is the SHA1 of the bill itself
  ("原始账单（gzip需要解压缩）的摘要值"), download_url is valid for 30 seconds. The bill is v2's
  (pay_bills: the same 27 columns, the same day and 10:00-next-day rules, three months kept):
  400 STATEMENT_CREATING before it is made, 400 NO_STATEMENT_EXIST for a day without trades,
  400 PARAM_ERROR for a malformed or out-of-range bill_date, bill_type or tar_type.
- 下载账单 GET download_url: signed like any request; the answer is the file (gzip with tar_type=GZIP)
  and carries no signature: the hash is what checks it.
- 下载平台证书 GET /v3/certificates: {"data": [{"serial_no", "effective_time", "expire_time",
  "encrypt_certificate": {"algorithm": "AEAD_AES_256_GCM", "nonce", "associated_data": "certificate",
  "ciphertext"}}]}, every certificate still valid, the PEM encrypted with the APIv3 key.
"""

from __future__ import annotations

import gzip
import hashlib
import secrets
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from werkzeug.wrappers import Response

from wechat_sandbox.pay_bills import BILL_TYPES, KEPT_MONTHS, READY_AT, _months_before, bill_csv, bill_rows
from wechat_sandbox.pay_orders import BEIJING
from wechat_sandbox.pay_v3_keys import BILL_TAMPERING, aead_encrypt
from wechat_sandbox.pay_v3_orders import MAX_BODY_BYTES, rfc3339
from wechat_sandbox.pay_v3_requests import V3Answer, V3Refusal, V3Request, v3_endpoint
from wechat_sandbox.protocols import PAY_V3
from wechat_sandbox.routes import Route
from wechat_sandbox.state import snapshot_part

if TYPE_CHECKING:
    from wechat_sandbox.state import Sandbox

DOWNLOAD_VALID_SECONDS = 30  # 申请交易账单, download_url: 该地址30s内有效
DOWNLOAD_PATH = "v3/billdownload/file"


@snapshot_part("pay_v3_bill_downloads")
class PayV3BillDownloads:
    """Bills asked for and not yet downloaded, by token; short-lived, so a snapshot keeps none. Use under the lock."""

    def __init__(self) -> None:
        self.by_token: dict[str, tuple[str, bytes, bool, float]] = {}  # mch_id, bill, gzipped, valid until

    def to_snapshot(self) -> dict:
        return {}

    @classmethod
    def from_snapshot(cls, data: dict) -> PayV3BillDownloads:
        return cls()


def _bill_date(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise V3Refusal("PARAM_ERROR", "bill_date格式应为yyyy-MM-DD", detail={"field": "bill_date"}) from None


def _trade_bill(sandbox: Sandbox, request: V3Request) -> V3Answer:
    """GET ?bill_date=&bill_type=&tar_type=: 申请交易账单 → hash_type, hash_value, download_url (30 s)."""
    day = _bill_date(request.query.get("bill_date", ""))
    bill_type = request.query.get("bill_type") or "ALL"
    tar_type = request.query.get("tar_type")
    if bill_type not in BILL_TYPES:
        raise V3Refusal("PARAM_ERROR", "bill_type取值应为ALL、SUCCESS或REFUND", detail={"field": "bill_type"})
    if tar_type not in (None, "", "GZIP"):
        raise V3Refusal("PARAM_ERROR", "tar_type取值应为GZIP", detail={"field": "tar_type"})
    now = datetime.fromtimestamp(sandbox.now(), BEIJING)
    if day >= now.date() or day < _months_before(now.date(), KEPT_MONTHS):
        raise V3Refusal("PARAM_ERROR", "bill_date只支持三个月内的账单", detail={"field": "bill_date"})
    if now < datetime.combine(day + timedelta(days=1), READY_AT, BEIJING):
        raise V3Refusal("STATEMENT_CREATING")
    with sandbox.lock:
        rows = bill_rows(sandbox, request.mch_id, day, bill_type)
    if not rows:
        raise V3Refusal("NO_STATEMENT_EXIST")
    bill = bill_csv(rows).encode()
    gzipped = tar_type == "GZIP"
    token = secrets.token_urlsafe(24)
    with sandbox.lock:
        downloads = sandbox.part(PayV3BillDownloads)
        payload = gzip.compress(bill) if gzipped else bill
        downloads.by_token[token] = (request.mch_id, payload, gzipped, sandbox.now() + DOWNLOAD_VALID_SECONDS)
    base = sandbox.v3_url or "https://127.0.0.1/"
    tampered = b"tampered" if request.keys.take_answer_tampering(request.received_at, BILL_TAMPERING) else b""
    return V3Answer(
        payload={
            "hash_type": "SHA1",
            "hash_value": hashlib.sha1(bill + tampered).hexdigest(),  # SHA1: the hash WeChat Pay documents
            "download_url": f"{base}{DOWNLOAD_PATH}?token={token}",
        }
    )


def _download(sandbox: Sandbox, request: V3Request) -> Response:
    """GET ?token=: 下载账单 → the file, unsigned (its hash_value checks it)."""
    token = request.query.get("token", "")
    with sandbox.lock:
        found = sandbox.part(PayV3BillDownloads).by_token.get(token)
        if found is None or found[0] != request.mch_id or sandbox.now() > found[3]:
            raise V3Refusal("INVALID_REQUEST", "账单下载地址无效或已过期(30秒内有效)")
    _, payload, gzipped, _ = found
    content_type = "application/octet-stream" if gzipped else "text/plain; charset=utf-8"
    return Response(payload, content_type=content_type)


def _certificates(sandbox: Sandbox, request: V3Request) -> V3Answer:
    """GET: 下载平台证书 → every platform certificate, each encrypted with the merchant's APIv3 key."""
    keys = request.keys
    with keys.lock:
        certificates = list(keys.platform_certificates)
    data = [
        {
            "serial_no": certificate.serial,
            "effective_time": rfc3339(certificate.certificate.not_valid_before_utc.timestamp()),
            "expire_time": rfc3339(certificate.certificate.not_valid_after_utc.timestamp()),
            "encrypt_certificate": aead_encrypt(keys.apiv3_key, certificate.pem().encode(), "certificate"),
        }
        for certificate in certificates
    ]
    return V3Answer(payload={"data": data})


ROUTES = (
    Route("/v3/bill/tradebill", ("GET",), v3_endpoint(_trade_bill), protocol=PAY_V3, max_body_bytes=MAX_BODY_BYTES),
    Route(f"/{DOWNLOAD_PATH}", ("GET",), v3_endpoint(_download), protocol=PAY_V3, max_body_bytes=MAX_BODY_BYTES),
    Route("/v3/certificates", ("GET",), v3_endpoint(_certificates), protocol=PAY_V3, max_body_bytes=MAX_BODY_BYTES),
)
