"""A client of the sandbox's control API, for tests, demo scripts and anyone driving it from Python."""

from __future__ import annotations

from typing import Any

import requests

DEFAULT_TIMEOUT_SECONDS = 10.0


class SandboxControlError(Exception):
    """The control API refused a request; the message is the sandbox's explanation."""

    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(f"WeChat sandbox answered {status}: {message}")


class SandboxClient:
    """The control API at `base_url` (the sandbox's root, as in WECHAT_API_BASE_URL); every call has a timeout."""

    def __init__(self, base_url: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS):
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout

    def reset(self) -> None:
        """Forget tokens, codes, blocked users, faults, the received log and the clock offset; keep the apps."""
        self._call("POST", "reset")

    def register_app(
        self, appid: str, secret: str, kind: str, *, callback: dict | None = None, account_type: str | None = None
    ) -> dict:
        """Register (or replace) an app; callback is {"url", "token", "mode"?, "encoding_aes_key"?}.

        account_type, for an Official Account: "subscription" (the default) or "service".
        """
        body = {"appid": appid, "secret": secret, "kind": kind, "callback": callback, "account_type": account_type}
        return self._call("POST", "apps", body)

    def apps(self) -> list[dict]:
        """The registered apps, never with a secret."""
        return self._call("GET", "apps")["apps"]

    def remove_app(self, appid: str) -> None:
        """Forget the app and everything issued to it; WeChat then answers for it as for an unknown appid."""
        self._call("DELETE", f"apps/{appid}")

    def register_merchant(
        self,
        *,
        mch_id: str,
        api_key: str,
        appid: str,
        apiv3_key: str | None = None,
        v3_verification: str | None = None,
    ) -> dict:
        """Register (or replace) a WeChat Pay merchant collecting for a registered app.

        Its APIv3 keys are issued the first time, or afresh with `apiv3_key` or `v3_verification`
        ("public_key" or "platform_certificate"); `tls()` names their files.
        """
        body = {
            "mch_id": mch_id,
            "api_key": api_key,
            "appid": appid,
            "apiv3_key": apiv3_key,
            "v3_verification": v3_verification,
        }
        return self._call("POST", "merchants", body)

    def remove_merchant(self, mch_id: str) -> None:
        """Forget the merchant (merchants outlive a reset, so a test that adds one removes it)."""
        self._call("DELETE", f"merchants/{mch_id}")

    def tls(self) -> dict:
        """Where secapi/ and APIv3 are served and each merchant's certificate and v3 key files."""
        return self._call("GET", "tls")

    def rotate_platform_certificate(self, mch_id: str) -> dict:
        """A new WeChat Pay platform certificate for the merchant, signing answers from now on."""
        return self._call("POST", f"pay/v3/merchants/{mch_id}/platform-certificates")

    def tamper_v3_answers(self, mch_id: str, kind: str, *, times: int = 1) -> dict:
        """Spoil WeChat Pay's next v3 answers to the merchant: bad_signature, stale_timestamp or unknown_serial."""
        return self._call("POST", f"pay/v3/merchants/{mch_id}/answer-tampering", {"kind": kind, "times": times})

    def merchants(self) -> list[dict]:
        """The registered merchants, never with an API key."""
        return self._call("GET", "merchants")["merchants"]

    def send_follower_event(self, *, appid: str, openid: str, event: str, event_key: str | None = None) -> dict:
        """Have WeChat push a follower's event to the Official Account's callback URL; returns the delivery."""
        body = {"appid": appid, "openid": openid, "event": event, "event_key": event_key}
        return self._call("POST", "official-account/events", body)

    def add_followers(
        self,
        appid: str,
        *,
        count: int | None = None,
        openids: list[str] | None = None,
        tag_ids: list[int] | None = None,
    ) -> dict:
        """New followers of an Official Account: `count` with generated openids, or these `openids`, with `tag_ids`.

        Returns {"appid", "added", "total", "openids"} (generated openids listed up to 10,000).
        """
        body = {"appid": appid, "count": count, "openids": openids, "tag_ids": tag_ids}
        return self._call("POST", "official-account/followers", body)

    def followers(self, appid: str) -> dict:
        """{"appid", "total", "tags": [{"id", "name", "count"}]}: how many follow the account, per tag too."""
        return self._call("GET", "official-account/followers", params={"appid": appid})

    def create_tag(self, appid: str, name: str) -> int:
        """A follower tag of the Official Account; returns its id (for sendall's filter.tag_id)."""
        return self._call("POST", "official-account/tags", {"appid": appid, "name": name})["id"]

    def mass_sends(self, appid: str | None = None) -> dict:
        """The mass sends WeChat accepted: {"count", "sends", "per_clientmsgid", "previews"}."""
        return self._call("GET", "official-account/mass-sends", params={"appid": appid} if appid else None)

    def end_next_mass_send_with(self, appid: str, status: str, *, article_urls: bool = True) -> None:
        """Make the account's next mass send end with `status`: "send success", "send fail" or e.g. "err(20001)".

        With article_urls False its MASSSENDJOBFINISH carries an empty ArticleUrlResult.
        """
        body = {"appid": appid, "status": status} | ({} if article_urls else {"article_urls": False})
        self._call("POST", "official-account/mass-send-outcome", body)

    def set_publish_outcome(
        self, appid: str, publish_status: int, *, fail_idx: list[int] | None = None, publish_id: str | None = None
    ) -> None:
        """How the account's next publication (or publication `publish_id`, now) ends: publish_status 0–6."""
        body = {"appid": appid, "publish_status": publish_status, "fail_idx": fail_idx, "publish_id": publish_id}
        self._call("POST", "official-account/publish-outcome", body)

    def set_refund_outcome(self, mch_id: str, refund_status: str) -> None:
        """The merchant's next refund (v2 or v3) ends with `refund_status` once processed.

        SUCCESS, CHANGE or REFUNDCLOSE; or v3's names for the last two, ABNORMAL and CLOSED.
        """
        self._call("POST", "pay/refund-outcome", {"mch_id": mch_id, "refund_status": refund_status})

    def register_console_send(self, appid: str, *, at: float | None = None) -> dict:
        """A mass send made in WeChat's MP console (now, or at sandbox time `at`): it counts in the quota."""
        return self._call(
            "POST", "official-account/console-sends", {"appid": appid} | ({} if at is None else {"at": at})
        )

    def set_mass_send_state(self, msg_id: int | str, msg_status: str | None) -> None:
        """message/mass/get answers `msg_status` (e.g. "SENDING") for this send; None clears it."""
        self._call("POST", "official-account/mass-send-state", {"msg_id": int(msg_id), "msg_status": msg_status})

    def outbox(self, state: str | None = None) -> list[dict]:
        """The callbacks sent or waiting, with every attempt's outcome; optionally only those in `state`."""
        return self._call("GET", "outbox", params={"state": state} if state else None)["deliveries"]

    def deliver_due_callbacks(self) -> int:
        """Attempt every callback due now and return when done; returns the number of attempts."""
        return self._call("POST", "outbox/deliver")["attempts"]

    def pay_orders(self) -> list[dict]:
        """The sandbox's WeChat Pay orders with their state."""
        return self._call("GET", "pay/orders")["orders"]

    def pay_order(
        self, out_trade_no: str, *, result: str = "SUCCESS", mch_id: str | None = None, bank_type: str | None = None
    ) -> dict:
        """The user pays in WeChat: SUCCESS (notification sent to notify_url), PAYERROR or USERPAYING."""
        body = {"result": result, "mch_id": mch_id, "bank_type": bank_type}
        return self._call("POST", f"pay/orders/{out_trade_no}/pay", body)

    def send_pay_notification(
        self,
        out_trade_no: str,
        *,
        fields: dict[str, str] | None = None,
        bad_signature: bool = False,
        mch_id: str | None = None,
    ) -> dict:
        """Post a paid order's notification again: a duplicate, or with `fields` changed, or a forged signature."""
        body = {"fields": fields, "bad_signature": bad_signature or None, "mch_id": mch_id}
        return self._call("POST", f"pay/orders/{out_trade_no}/notify", body)

    def pay_refunds(self) -> list[dict]:
        """The sandbox's WeChat Pay refunds with their refund_status (PROCESSING until they go through)."""
        return self._call("GET", "pay/refunds")["refunds"]

    def change_bill(
        self,
        bill_date: str,
        fields: dict[str, str],
        *,
        out_trade_no: str | None = None,
        out_refund_no: str | None = None,
        extra: bool = False,
        omit: bool = False,
        mch_id: str | None = None,
    ) -> dict:
        """Tamper with a row of the yyyyMMdd bill, add an `extra` one or `omit` one; `fields` keyed by column names."""
        body = {
            "fields": fields,
            "out_trade_no": out_trade_no,
            "out_refund_no": out_refund_no,
            "extra": extra or None,
            "omit": omit or None,
            "mch_id": mch_id,
        }
        return self._call("POST", f"pay/bills/{bill_date}/rows", body)

    def clear_bill_changes(self, bill_date: str) -> int:
        """Forget the changes made to that date's bill; returns how many."""
        return self._call("DELETE", f"pay/bills/{bill_date}/rows")["removed"]

    def state(self, *, include_received: bool = False) -> dict:
        """The whole state (GET /sandbox/state): secrets only as digests; restore it with restore_state()."""
        return self._call("GET", "state", params={"received": "true"} if include_received else None)

    def restore_state(self, snapshot: dict) -> None:
        self._call("PUT", "state", snapshot, keep_nulls=True)

    def mint_login_code(
        self, *, openid: str | None = None, unionid: str | None = None, appid: str | None = None
    ) -> dict:
        """A wx.login() code: {"code", "openid", "unionid", "appid"}; appid defaults to the registered Mini Program."""
        return self._call("POST", "miniprogram/codes", {"openid": openid, "unionid": unionid, "appid": appid})

    def set_mini_program_pages(self, pages: list[str], *, appid: str | None = None) -> dict:
        """The Mini Program's published pages, which wxa/getwxacodeunlimit checks `page` against (home page first)."""
        return self._call("POST", "miniprogram/pages", {"pages": pages, "appid": appid})

    def mini_program_pages(self, appid: str | None = None) -> dict:
        """{"appid", "pages", "codes"}: the published pages and every code drawn (scene, page, env_version, width)."""
        return self._call("GET", "miniprogram/pages", params={"appid": appid} if appid else None)

    def block_user(self, openid: str) -> None:
        self._call("POST", "miniprogram/blocked", {"openid": openid})

    def add_subscribe_template(self, template_id: str, keywords: list[str], *, appid: str | None = None) -> dict:
        """The Mini Program has this subscribe message template (keyword names such as "thing1", "amount2")."""
        body = {"appid": appid, "template_id": template_id, "keywords": keywords}
        return self._call("POST", "miniprogram/subscribe-templates", body)

    def subscribe(self, openid: str, results: dict[str, str], *, appid: str | None = None) -> dict:
        """What the buyer chose in wx.requestSubscribeMessage: {template_id: "accept" | "reject" | "ban" | "filter"}."""
        return self._call("POST", "miniprogram/subscriptions", {"appid": appid, "openid": openid, "results": results})

    def subscribe_messages(self, openid: str | None = None) -> dict:
        """{"count", "per_buyer": {openid: [messages]}, "acceptances": [...]}: what each buyer received."""
        return self._call("GET", "miniprogram/subscribe-messages", params={"openid": openid} if openid else None)

    def shippings(self) -> list[dict]:
        """Every payment's shipping as WeChat's shipping service holds it (upload_shipping_info)."""
        return self._call("GET", "miniprogram/shippings")["shippings"]

    def confirm_receipt(
        self, *, transaction_id: str | None = None, out_trade_no: str | None = None, method: int | None = None
    ) -> dict:
        """The buyer confirms receipt in WeChat: trade_manage_order_settlement is pushed to the Mini Program."""
        body = {"transaction_id": transaction_id, "out_trade_no": out_trade_no, "method": method}
        return self._call("POST", "miniprogram/shippings/confirm-receipt", body)

    def add_fault(
        self,
        path: str,
        *,
        errcode: int | str | None = None,
        errmsg: str | None = None,
        delay: float | None = None,
        drop: bool = False,
        http_status: int | None = None,
        times: int = 1,
    ) -> dict:
        """Make the next `times` requests to `path` fail (see POST /sandbox/faults); returns the fault with its id.

        errcode is an integer on api.weixin.qq.com paths, a WeChat Pay err_code ("SYSTEMERROR") on Pay paths.
        """
        return self._call(
            "POST",
            "faults",
            {
                "path": path,
                "errcode": errcode,
                "errmsg": errmsg,
                "delay": delay,
                "drop": drop or None,
                "http_status": http_status,
                "times": times,
            },
        )

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def set_latency(self, seconds: float) -> None:
        """Every WeChat request waits `seconds` before its answer, until reset or set to 0."""
        self._call("PUT", "latency", {"seconds": seconds})

    def received(self, path: str | None = None) -> list[dict]:
        """The WeChat requests the sandbox received, oldest first, optionally only those to `path`."""
        return self._call("GET", "received", params={"path": path} if path else None)["requests"]

    def advance_clock(self, seconds: float) -> dict:
        """Move sandbox time forward, or back (negative, never behind real time); returns {"now", "offset"}."""
        return self._call("POST", "clock", {"advance": seconds})

    def reset_clock(self) -> dict:
        """Sandbox time is real time again; returns {"now", "offset"}."""
        return self._call("DELETE", "clock")

    def expire_tokens(self, appid: str) -> None:
        """End every access token of `appid` now: the next call with one gets 42001."""
        self._call("POST", "tokens/expire", {"appid": appid})

    def _call(
        self, method: str, path: str, body: dict | None = None, params: dict | None = None, *, keep_nulls: bool = False
    ) -> Any:
        # Unset optional fields are left out rather than sent as null, unless the body is data to keep as is.
        payload = (
            body if keep_nulls or body is None else {name: value for name, value in body.items() if value is not None}
        )
        response = requests.request(
            method, f"{self.base_url}sandbox/{path}", json=payload, params=params, timeout=self.timeout
        )
        if not response.ok:
            try:
                message = response.json()["errmsg"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:500]
            raise SandboxControlError(response.status_code, message)
        return response.json()
