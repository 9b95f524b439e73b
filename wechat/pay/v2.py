"""WeChat Pay v2 (XML over HTTPS, signed with the API key), per 微信支付 V2 开发文档 (JSAPI支付 / API列表)."""

import base64
import binascii
import hashlib
import secrets
import time
import zlib
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from xml.etree.ElementTree import Element, SubElement, tostring
from zoneinfo import ZoneInfo

import requests
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from wechat.errors import (
    WeChatError,
    WeChatMisconfigured,
    WeChatPermanentError,
    WeChatTransientError,
    error_for_errcode,
    error_from_exception,
)
from wechat.pay.interface import (
    InvalidPayMessage,
    MalformedPayMessage,
    MerchantConfig,
    OrderStatus,
    PaymentNotification,
    PrepayResult,
    RefundNotification,
    RefundResult,
    RefundStatus,
)
from wechat.pay.signing import MD5, SIGN_TYPES, sign, signature_type_matched, signature_valid

BEIJING = ZoneInfo("Asia/Shanghai")
BILL_CHUNK_BYTES = 64 * 1024


def parse_xml(body: bytes) -> dict[str, str]:
    """A flat WeChat Pay `<xml>` message's fields; DTDs and entities are refused."""
    try:
        root = fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException) as exc:
        raise MalformedPayMessage(f"not a WeChat Pay XML message ({type(exc).__name__})") from exc
    return {child.tag: child.text or "" for child in root}


def decrypt_req_info(req_info: str, api_key: str) -> bytes:
    """退款结果通知, 解密步骤: base64, then AES-256-ECB (PKCS#7) keyed with the lower-case hex MD5 of the API key."""
    key = hashlib.md5(api_key.encode()).hexdigest().encode()  # the key derivation WeChat Pay specifies
    try:
        encrypted = base64.b64decode(req_info, validate=True)
        decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()  # ECB: as WeChat Pay specifies
        padded = decryptor.update(encrypted) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()
    except (binascii.Error, ValueError) as exc:
        raise InvalidPayMessage("req_info does not decrypt with our API key") from exc


def build_xml(fields: Mapping[str, str], *, cdata: bool = False) -> bytes:
    """A flat `<xml>` message: the one writer of WeChat Pay XML, for our requests and our answers.

    Values are escaped text, or with `cdata` each in a CDATA section, the form WeChat Pay's
    documentation gives its notification answers in.
    """
    if not cdata:
        root = Element("xml")
        for name, value in fields.items():
            SubElement(root, name).text = value
        return tostring(root, encoding="utf-8")
    # Names are WeChat's field names, never text we received.
    sections = "".join(f"<{name}><![CDATA[{_cdata_safe(value)}]]></{name}>" for name, value in fields.items())
    return f"<xml>{sections}</xml>".encode()


def _cdata_safe(value: str) -> str:
    # "]]>" would end the section early: split it across two sections.
    return value.replace("]]>", "]]]]><![CDATA[>")


class WeChatPayV2:
    def __init__(self, config: MerchantConfig):
        self.config = config

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
            "pay/unifiedorder",
            {
                "body": body,
                "out_trade_no": out_trade_no,
                "total_fee": str(total_fee),
                "spbill_create_ip": client_ip,
                "notify_url": notify_url,
                "trade_type": "JSAPI",
                "openid": openid,
                "time_expire": time_expire.astimezone(BEIJING).strftime("%Y%m%d%H%M%S"),
            },
        )
        return PrepayResult(prepay_id=answer["prepay_id"], sign_type=self.config.sign_type)

    def payment_parameters(self, prepay: PrepayResult) -> dict[str, str]:
        """The parameters of the Mini Program's `wx.requestPayment`, signed for the client."""
        params = {
            "appId": self.config.appid,
            "timeStamp": str(int(time.time())),
            "nonceStr": secrets.token_hex(16),
            "package": f"prepay_id={prepay.prepay_id}",
            "signType": prepay.sign_type,
        }
        return {**params, "paySign": sign(params, self.config.api_key, prepay.sign_type)}

    def order_query(self, out_trade_no: str) -> OrderStatus:
        answer = self._call("pay/orderquery", {"out_trade_no": out_trade_no})
        return OrderStatus(
            out_trade_no=answer["out_trade_no"],
            trade_state=answer["trade_state"],
            total_fee=int(answer["total_fee"]),
            transaction_id=answer.get("transaction_id") or None,
            time_end=answer.get("time_end") or None,
        )

    def order_close(self, out_trade_no: str) -> None:
        self._call("pay/closeorder", {"out_trade_no": out_trade_no})

    def refund(
        self, *, out_trade_no: str, out_refund_no: str, total_fee: int, refund_fee: int, notify_url: str | None = None
    ) -> RefundResult:
        fields = {
            "out_trade_no": out_trade_no,
            "out_refund_no": out_refund_no,
            "total_fee": str(total_fee),
            "refund_fee": str(refund_fee),
        }
        if notify_url:
            fields["notify_url"] = notify_url
        answer = self._call("secapi/pay/refund", fields, with_certificate=True)
        return RefundResult(
            out_refund_no=answer["out_refund_no"], refund_id=answer["refund_id"], refund_fee=int(answer["refund_fee"])
        )

    def refund_query(self, out_refund_no: str) -> RefundStatus:
        answer = self._call("pay/refundquery", {"out_refund_no": out_refund_no})
        # The answer lists the order's refunds as _0, _1, ...: ours is the one with our number.
        for n in range(int(answer.get("refund_count", "0"))):
            if answer.get(f"out_refund_no_{n}") == out_refund_no:
                return RefundStatus(
                    out_refund_no=out_refund_no,
                    refund_id=answer[f"refund_id_{n}"],
                    refund_fee=int(answer[f"refund_fee_{n}"]),
                    refund_status=answer[f"refund_status_{n}"],
                )
        raise WeChatPermanentError(f"refund {out_refund_no} not in WeChat's answer", errcode="REFUNDNOTEXIST")

    def bill_download(self, bill_date: date, bill_type: str = "ALL", *, gzip: bool = True) -> Iterator[str]:
        """The bill's lines (no line ends), streamed and decompressed as they arrive.

        A bill is not signed: WeChat answers the file itself, or a signed-less `<xml>` refusal.
        """
        fields = {"bill_date": bill_date.strftime("%Y%m%d"), "bill_type": bill_type}
        if gzip:
            fields["tar_type"] = "GZIP"
        response = self._post("pay/downloadbill", fields, stream=True)
        return self._bill_lines(response, gzip=gzip)

    def notification_verify(
        self, body: bytes, sign_type: str | None = None, *, fields: Mapping[str, str] | None = None
    ) -> PaymentNotification:
        """A payment notification, trusted only once its signature checks out.

        It is signed with the method the order used and may omit `sign_type`, so the caller says; or,
        not knowing the order, says None: each of WeChat's methods is tried, and the notification
        tells which one matched, for the caller to compare with the order's. `fields`: the body's,
        when the caller has parsed it already (to find the merchant), so it is parsed once.
        """
        fields = parse_xml(body) if fields is None else fields
        candidates = (sign_type,) if sign_type else SIGN_TYPES
        matched = signature_type_matched(fields, self.config.api_key, candidates)
        if matched is None:
            raise InvalidPayMessage("payment notification signature does not match")
        if (fields.get("appid"), fields.get("mch_id")) != (self.config.appid, self.config.mch_id):
            raise InvalidPayMessage("payment notification is for another app or merchant")
        try:
            return PaymentNotification(
                out_trade_no=fields["out_trade_no"],
                transaction_id=fields["transaction_id"],
                total_fee=int(fields["total_fee"]),
                openid=fields.get("openid", ""),
                time_end=fields.get("time_end", ""),
                result_code=fields["result_code"],
                sign_type=matched,
                raw_body=body.decode("utf-8", "replace"),
                appid=self.config.appid,
                mch_id=self.config.mch_id,
                fee_type=fields.get("fee_type") or "CNY",  # 支付结果通知: 货币类型, optional, default CNY
            )
        except (KeyError, ValueError) as exc:
            raise InvalidPayMessage(f"payment notification without a valid {exc}") from exc

    def refund_notification_verify(self, body: bytes, *, fields: Mapping[str, str] | None = None) -> RefundNotification:
        """A refund notification, trusted once its req_info decrypts with our API key (it carries no signature).

        `fields`: the body's, when the caller has parsed it already.
        """
        fields = parse_xml(body) if fields is None else fields
        if fields.get("return_code") != "SUCCESS" or not fields.get("req_info"):
            raise InvalidPayMessage("refund notification without return_code SUCCESS and req_info")
        if (fields.get("appid"), fields.get("mch_id")) != (self.config.appid, self.config.mch_id):
            raise InvalidPayMessage("refund notification is for another app or merchant")
        info = parse_xml(decrypt_req_info(fields["req_info"], self.config.api_key))
        try:
            return RefundNotification(
                out_refund_no=info["out_refund_no"],
                out_trade_no=info["out_trade_no"],
                refund_id=info["refund_id"],
                transaction_id=info["transaction_id"],
                total_fee=int(info["total_fee"]),
                refund_fee=int(info["refund_fee"]),
                refund_status=info["refund_status"],
                success_time=info.get("success_time", ""),
                appid=self.config.appid,
                mch_id=self.config.mch_id,
            )
        except (KeyError, ValueError) as exc:
            raise InvalidPayMessage(f"refund notification without a valid {exc}") from exc

    def _call(self, path: str, fields: dict[str, str], *, with_certificate: bool = False) -> dict[str, str]:
        response = self._post(path, fields, with_certificate=with_certificate)
        answer = parse_xml(response.content)
        if answer.get("return_code") != "SUCCESS":
            raise self._return_failure(answer.get("return_msg", ""))
        # An unsigned business failure can only make us fail or retry, never believe money moved: report
        # it as is. Anything signed, and every success, must carry our signature.
        if "sign" in answer or answer.get("result_code") == "SUCCESS":
            if not signature_valid(answer, self.config.api_key, self.config.sign_type):
                raise InvalidPayMessage(f"the answer to {path} is not signed with our API key")
        self._raise_for_failure(answer)
        return answer

    def _post(
        self, path: str, fields: dict[str, str], *, with_certificate: bool = False, stream: bool = False
    ) -> requests.Response:
        params = {
            "appid": self.config.appid,
            "mch_id": self.config.mch_id,
            "nonce_str": secrets.token_hex(16),
            **fields,
        }
        if self.config.sign_type != MD5:
            params["sign_type"] = self.config.sign_type
        params["sign"] = sign(params, self.config.api_key, self.config.sign_type)
        base_url, cert = self.config.api_base_url, None
        if with_certificate:
            if not (self.config.cert_path and self.config.key_path):
                raise WeChatMisconfigured(f"{path} needs the merchant certificate: set WECHAT_PAY_CERT_PATH, _KEY_PATH")
            base_url, cert = self.config.secapi_base_url or base_url, (self.config.cert_path, self.config.key_path)
        url = base_url.rstrip("/") + "/" + path
        verify = self.config.ca_bundle or True
        try:
            response = requests.post(
                url, data=build_xml(params), timeout=self.config.timeout, cert=cert, verify=verify, stream=stream
            )
            response.raise_for_status()
        except requests.exceptions.SSLError as exc:
            # The TLS handshake failed, so WeChat never saw the request: our certificate, key or CA is wrong.
            raise WeChatMisconfigured(f"TLS with WeChat Pay failed for {path}: {exc}") from exc
        except requests.RequestException as exc:
            raise error_from_exception(exc) from exc
        except OSError as exc:  # requests reads the certificate files as it sends
            raise WeChatMisconfigured(f"cannot read the merchant certificate for {path}: {exc}") from exc
        return response

    def _bill_lines(self, response: requests.Response, *, gzip: bool) -> Iterator[str]:
        with response:
            chunks = response.iter_content(BILL_CHUNK_BYTES)
            first = next(chunks, b"")
            if first.lstrip().startswith(b"<xml>"):
                refusal = parse_xml(first + b"".join(chunks))
                if refusal.get("return_msg") == "Bill Creating":  # before 10:00 Beijing the next day
                    raise WeChatTransientError("the bill is not made yet", errcode="BILL_CREATING")
                raise error_for_errcode(
                    refusal.get("error_code") or refusal.get("err_code") or "BILL_REFUSED",
                    refusal.get("return_msg", ""),
                )
            decompress = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
            pending = b""
            for chunk in _chain(first, chunks):
                pending += decompress.decompress(chunk) if decompress else chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.rstrip(b"\r").decode("utf-8")
            if decompress:
                pending += decompress.flush()
            if pending.strip():
                yield pending.rstrip(b"\r").decode("utf-8")

    @staticmethod
    def _return_failure(return_msg: str) -> WeChatError:
        # return_code FAIL: WeChat Pay refused the call itself; a signature it rejects means our key is wrong.
        if "签名错误" in return_msg or "sign" in return_msg.lower():
            return WeChatMisconfigured(f"WeChat Pay refused our signature: {return_msg}", errcode="SIGNERROR")
        return WeChatPermanentError(f"WeChat Pay refused the request: {return_msg}")

    @staticmethod
    def _raise_for_failure(fields: dict[str, str]) -> None:
        if fields.get("result_code") != "SUCCESS":
            raise error_for_errcode(fields.get("err_code") or "FAIL", fields.get("err_code_des", ""))


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest
