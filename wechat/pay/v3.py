"""WeChat Pay APIv3 (JSON over HTTPS, RSA-signed), per 微信支付 APIv3 文档, JSAPI支付 (直连商户).

The same operations as v2 (wechat.pay.interface.PaymentGateway), answering the same dataclasses:
- JSAPI下单 POST /v3/pay/transactions/jsapi → prepay_id; wx.requestPayment's parameters signed RSA;
- 商户订单号查询订单 GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=;
- 关闭订单 POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close → 204;
- 退款申请 POST /v3/refund/domestic/refunds; 查询单笔退款 GET /v3/refund/domestic/refunds/{out_refund_no};
- 申请交易账单 GET /v3/bill/tradebill → download_url, then the file, streamed, gunzipped, its SHA1
  (hash_value, of the bill as unzipped) checked, read by wechat.pay.bill_v3.
Every request is signed (Authorization, v3_signing); every 2xx answer's Wechatpay-Signature is
checked against WeChat Pay's public key, or the platform certificate its Wechatpay-Serial names
(v3_platform_certificates), and so is every error the business acts on as a fact (ORDER_NOT_EXIST,
ORDERPAID, ...); one that fails is not believed: AnswerNotTrusted, transient, as if it never came.
Errors map through v3_errors. Timeouts and base URL from the merchant's config; the object keeps
nothing between calls (the certificates live in the shared cache).
Notifications (支付通知, 退款结果通知) are verified by the v3 notification endpoints.
"""

import hashlib
import json
import zlib
from collections.abc import Callable, Iterator
from datetime import date, datetime
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

import requests
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from wechat.errors import WeChatMisconfigured, error_from_exception
from wechat.pay.interface import MerchantConfig, OrderStatus, PrepayResult, RefundResult, RefundStatus
from wechat.pay.v3_errors import AnswerNotTrusted, error_is_a_fact, v3_error
from wechat.pay.v3_platform_certificates import certificates_decrypt, platform_public_key
from wechat.pay.v3_signing import (
    PAY_SIGN_TYPE,
    InvalidWechatpaySignature,
    answer_verify,
    authorization_header,
    private_key_load,
    public_key_load,
    request_payment_parameters,
)

BEIJING = ZoneInfo("Asia/Shanghai")
BILL_CHUNK_BYTES = 64 * 1024
USER_AGENT = "wechatcms-wechatpay-v3"
# 查询单笔退款's status in v2's words, which the business reads (RefundStatus.refund_status).
REFUND_STATUSES = {"SUCCESS": "SUCCESS", "PROCESSING": "PROCESSING", "CLOSED": "REFUNDCLOSE", "ABNORMAL": "CHANGE"}


class WeChatPayV3:
    def __init__(self, config: MerchantConfig):
        self.config = config

    # --- the operations -----------------------------------------------------------------------

    def prepay(
        self,
        *,
        out_trade_no: str,
        total_fee: int,
        openid: str,
        body: str,
        notify_url: str,
        time_expire: datetime,
        client_ip: str,
    ) -> PrepayResult:
        answer = self._call(
            "POST",
            "v3/pay/transactions/jsapi",
            {
                "appid": self.config.appid,
                "mchid": self.config.mch_id,
                "description": body,
                "out_trade_no": out_trade_no,
                "time_expire": time_expire.astimezone(BEIJING).isoformat(timespec="seconds"),
                "notify_url": notify_url,
                "amount": {"total": total_fee, "currency": "CNY"},
                "payer": {"openid": openid},
                "scene_info": {"payer_client_ip": client_ip},
            },
        )
        return PrepayResult(prepay_id=answer["prepay_id"], sign_type=PAY_SIGN_TYPE)

    def payment_parameters(self, prepay: PrepayResult) -> dict[str, str]:
        """wx.requestPayment's parameters, paySign RSA with the merchant key (JSAPI调起支付)."""
        return request_payment_parameters(
            private_key=self._private_key, appid=self.config.appid, prepay_id=prepay.prepay_id
        )

    def order_query(self, out_trade_no: str) -> OrderStatus:
        query = urlencode({"mchid": self.config.mch_id})
        path = f"v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}?{query}"
        answer = self._call("GET", path, not_found_errcode="ORDERNOTEXIST")
        success_time = answer.get("success_time")
        return OrderStatus(
            out_trade_no=answer["out_trade_no"],
            trade_state=answer["trade_state"],
            total_fee=int(answer["amount"]["total"]),
            transaction_id=answer.get("transaction_id") or None,
            time_end=_beijing_stamp(success_time) if success_time else None,
        )

    def order_close(self, out_trade_no: str) -> None:
        path = f"v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}/close"
        self._call("POST", path, {"mchid": self.config.mch_id}, not_found_errcode="ORDERNOTEXIST")

    def refund(
        self, *, out_trade_no: str, out_refund_no: str, total_fee: int, refund_fee: int, notify_url: str | None = None
    ) -> RefundResult:
        body: dict[str, Any] = {
            "out_trade_no": out_trade_no,
            "out_refund_no": out_refund_no,
            "amount": {"refund": refund_fee, "total": total_fee, "currency": "CNY"},
        }
        if notify_url:
            body["notify_url"] = notify_url
        answer = self._call("POST", "v3/refund/domestic/refunds", body, not_found_errcode="ORDERNOTEXIST")
        return RefundResult(
            out_refund_no=answer["out_refund_no"],
            refund_id=answer["refund_id"],
            refund_fee=int(answer["amount"]["refund"]),
        )

    def refund_query(self, out_refund_no: str) -> RefundStatus:
        path = f"v3/refund/domestic/refunds/{quote(out_refund_no, safe='')}"
        answer = self._call("GET", path, not_found_errcode="REFUNDNOTEXIST")
        return RefundStatus(
            out_refund_no=answer["out_refund_no"],
            refund_id=answer["refund_id"],
            refund_fee=int(answer["amount"]["refund"]),
            refund_status=REFUND_STATUSES.get(answer["status"], answer["status"]),
        )

    def bill_download(self, bill_date: date, bill_type: str = "ALL", *, gzip: bool = True) -> Iterator[str]:
        """The bill's lines (no line ends), streamed as they arrive; the SHA1 is checked once the last has.

        A bill whose hash does not match raises AnswerNotTrusted after its last line: a reader that
        streams it (reconciliation) fails the run instead of trusting what it read.
        """
        query = {"bill_date": bill_date.isoformat(), "bill_type": bill_type}
        if gzip:
            query["tar_type"] = "GZIP"
        answer = self._call("GET", f"v3/bill/tradebill?{urlencode(query)}")
        if answer.get("hash_type") != "SHA1" or not answer.get("hash_value") or not answer.get("download_url"):
            raise AnswerNotTrusted("the trade bill answer has no SHA1 hash_value and download_url")
        response = self._send("GET", self._download_url(answer["download_url"]), stream=True)
        if response.status_code >= 300:
            raise v3_error(response.status_code, _json(response))
        return _bill_lines(response, gzip=gzip, sha1=answer["hash_value"].lower())

    # --- signing, sending, verifying ----------------------------------------------------------

    @cached_property
    def _private_key(self) -> RSAPrivateKey:
        if not (self.config.private_key and self.config.certificate_serial):
            raise WeChatMisconfigured(f"merchant {self.config.mch_id} has no APIv3 private key and certificate serial")
        try:
            return private_key_load(self.config.private_key)
        except (ValueError, TypeError) as exc:
            raise WeChatMisconfigured(f"merchant {self.config.mch_id}'s APIv3 private key does not load") from exc

    @cached_property
    def _wechatpay_public_key(self) -> RSAPublicKey | None:
        if not self.config.wechatpay_public_key:
            return None
        try:
            return public_key_load(self.config.wechatpay_public_key)
        except (ValueError, TypeError) as exc:
            raise WeChatMisconfigured(f"merchant {self.config.mch_id}'s WeChat Pay public key does not load") from exc

    def _call(self, method: str, path: str, body: dict | None = None, *, not_found_errcode: str | None = None) -> dict:
        """One signed request to `path` (under v3_base_url), its answer verified; {} for 204."""
        url = self.config.v3_base_url.rstrip("/") + "/" + path
        response = self._send(method, url, body)
        if response.status_code >= 300:
            error = v3_error(response.status_code, _json(response), not_found_errcode=not_found_errcode)
            if error_is_a_fact(error):
                # The business acts on these as facts (an order that does not exist is expired here): a
                # forged one must not pass. A transient or misconfigured error only makes us wait or stop.
                self._verify(response, self._public_key_for_serial)
            raise error
        self._verify(response, self._public_key_for_serial)
        if response.status_code == 204 or not response.content:
            return {}
        answer = _json(response)
        if not isinstance(answer, dict):
            raise AnswerNotTrusted(f"the answer to {path} is not a JSON object")
        return answer

    def _send(self, method: str, url: str, body: dict | None = None, *, stream: bool = False) -> requests.Response:
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")) if body is not None else ""
        parts = urlsplit(url)
        signed_url = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {
            "Authorization": authorization_header(
                mch_id=self.config.mch_id,
                serial_no=self.config.certificate_serial,
                private_key=self._private_key,
                method=method,
                url=signed_url,
                body=data,
            ),
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            return requests.request(
                method,
                url,
                data=data.encode() if body is not None else None,
                headers=headers,
                timeout=self.config.timeout,
                verify=self.config.ca_bundle or True,
                stream=stream,
            )
        except requests.exceptions.SSLError as exc:
            raise WeChatMisconfigured(f"TLS with WeChat Pay failed: {exc}") from exc
        except requests.RequestException as exc:
            raise error_from_exception(exc) from exc

    @staticmethod
    def _verify(response: requests.Response, public_key_for_serial: Callable[[str], RSAPublicKey | None]) -> None:
        try:
            answer_verify(headers=response.headers, body=response.content, public_key_for_serial=public_key_for_serial)
        except InvalidWechatpaySignature as exc:
            raise AnswerNotTrusted(f"WeChat Pay's answer is not trusted: {exc}") from exc

    def _public_key_for_serial(self, serial: str) -> RSAPublicKey | None:
        """WeChat Pay's key named by Wechatpay-Serial: its public key (by id), or a platform certificate."""
        if self.config.verification == "public_key":
            if not self.config.wechatpay_public_key_id:
                raise WeChatMisconfigured(f"merchant {self.config.mch_id} has no WeChat Pay public key id")
            return self._wechatpay_public_key if serial == self.config.wechatpay_public_key_id else None
        return platform_public_key(self.config, serial, download=self._platform_certificates_download)

    def _platform_certificates_download(self) -> dict[str, str]:
        """下载平台证书: serial -> PEM, decrypted with the APIv3 key; the answer checked with what it brought.

        The answer can only be signed by a certificate in it: what vouches for them is that they
        decrypt with our APIv3 key (AEAD), which only WeChat Pay and we hold.
        """
        url = self.config.v3_base_url.rstrip("/") + "/v3/certificates"
        response = self._send("GET", url)
        if response.status_code >= 300:
            raise v3_error(response.status_code, _json(response))
        certificates = certificates_decrypt(_json(response), apiv3_key=self.config.apiv3_key)
        self._verify(response, lambda serial: certificates[serial][1] if serial in certificates else None)
        return {serial: pem for serial, (pem, _) in certificates.items()}

    def _download_url(self, download_url: str) -> str:
        """The bill's download_url, if it is on WeChat Pay's host as we call it (never a host an answer names)."""
        ours, theirs = urlsplit(self.config.v3_base_url), urlsplit(download_url)
        if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
            raise AnswerNotTrusted(f"the bill's download_url is not on {ours.scheme}://{ours.netloc}")
        return download_url


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _beijing_stamp(rfc3339: str) -> str:
    """APIv3's rfc3339 time as v2's yyyyMMddHHmmss Beijing time (what OrderStatus.time_end holds)."""
    return datetime.fromisoformat(rfc3339).astimezone(BEIJING).strftime("%Y%m%d%H%M%S")


def _bill_lines(response: requests.Response, *, gzip: bool, sha1: str) -> Iterator[str]:
    with response:
        decompress = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
        digest = hashlib.sha1()  # SHA1: the hash WeChat Pay documents for bills
        pending = b""
        for chunk in response.iter_content(BILL_CHUNK_BYTES):
            plain = decompress.decompress(chunk) if decompress else chunk
            digest.update(plain)
            pending += plain
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line.rstrip(b"\r").decode("utf-8")
        if decompress:
            tail = decompress.flush()
            digest.update(tail)
            pending += tail
        if pending.strip():
            yield pending.rstrip(b"\r").decode("utf-8")
        if digest.hexdigest() != sha1:
            raise AnswerNotTrusted("the bill's SHA1 is not the hash_value WeChat Pay gave: not received whole")
