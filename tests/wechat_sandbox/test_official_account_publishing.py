"""An Official Account's media, drafts, mass sends and publishing in the sandbox, over real HTTP.

Rules checked here and where they come from (公众号文档 unless said otherwise):
- "上传图文消息图片 uploadImage" (注意事项, 错误码): jpg/png under 1 MB; 40005 invalid file type,
  40009 invalid image size.
- "上传永久素材 addMaterial" (注意事项): image ≤ 10 MB bmp/png/jpeg/jpg/gif, thumb ≤ 64 KB JPG; 40006 for an
  oversized thumb, 40004 an unknown type, 41005 no file (全局返回码说明).
- "草稿箱 / 新建草稿" (请求参数): 1-8 articles, title ≤ 32, author ≤ 16, digest ≤ 128, content < 20,000 characters
  and < 1 MB with scripts removed and images not from uploadimg filtered out, content_source_url ≤ 1 KB,
  thumb_media_id a permanent media id; 45002/45003/45004/45005/45008/45110/40007/44003 (全局返回码说明).
- "群发接口和原创校验" (前言): subscription accounts 1 mass send a day, service accounts 100 a day with each
  follower receiving at most 4 a (natural) month (45028 "has no masssend quota"); 60 requests a minute;
  clientmsgid ≤ 64 bytes (45067), a repeat within 24 hours
  refused with 45065 "clientmsgid exist" and the msg_id of the earlier send; without one, audience + content
  stand in for it; touser 2-10,000 openids (40130, 40032); preview uses no quota.
- "事件推送群发结果": MASSSENDJOBFINISH with MsgID, Status, TotalCount, FilterCount, SentCount, ErrorCount,
  ArticleUrlResult; signed as "接入概述" says and encrypted in safe mode ("消息加解密说明").
- "发布能力 / 发布接口": freepublish/submit → publish_id, PUBLISHJOBFINISH, freepublish/get → article_detail.
Windows are in Beijing time (UTC+8), as WeChat counts days and months.
"""

import json
import threading
import time
import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime, timedelta, timezone

import pytest
import requests
from django.conf import settings
from wechatpy import WeChatClient
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import WeChatClientException
from wechatpy.utils import check_signature
from werkzeug.serving import make_server

from tests.wechat_sandbox.calls import TIMEOUT, assert_wechat_error, fetch_token, mini_program_token
from tests.wechat_sandbox.test_outbox import CallbackReceiver
from wechat_sandbox.client import SandboxControlError

BEIJING = timezone(timedelta(hours=8))
CALLBACK_TOKEN = "publishToken42"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 200
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
GIF = b"GIF89a" + b"\x00" * 200
BMP = b"BM" + b"\x00" * 200
KB, MB = 1024, 1024 * 1024


def jpeg_of(size: int) -> bytes:
    return JPEG + b"\x00" * (size - len(JPEG))


def png_of(size: int) -> bytes:
    return PNG + b"\x00" * (size - len(PNG))


@pytest.fixture
def receiver():
    receiver = CallbackReceiver()
    server = make_server("127.0.0.1", 0, receiver, threaded=True)
    receiver.url = f"http://127.0.0.1:{server.port}/wechat/oa/publishing/"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


class Account:
    """An Official Account registered for one test, with a token and helpers for its WeChat calls."""

    def __init__(self, url: str, appid: str, secret: str):
        self.url, self.appid, self.secret = url, appid, secret
        self.renew_token()

    def renew_token(self) -> None:
        """A fresh access token: one lives 2 hours, and tests move the clock by days."""
        self.token = fetch_token(self.url, appid=self.appid, secret=self.secret)["access_token"]

    def post(self, path: str, body=None, *, files=None, params=None, data=None) -> dict:
        query = {"access_token": self.token, **(params or {})}
        if files is not None:
            return requests.post(self.url + path, params=query, files=files, timeout=TIMEOUT).json()
        payload = data if data is not None else json.dumps(body, ensure_ascii=False).encode()
        return requests.post(self.url + path, params=query, data=payload, timeout=TIMEOUT).json()

    def upload_image(self, data: bytes = JPEG, name: str = "photo.jpg") -> str:
        return self.post("cgi-bin/media/uploadimg", files={"media": (name, data)})["url"]

    def thumb(self) -> str:
        return self.post(
            "cgi-bin/material/add_material", files={"media": ("cover.jpg", JPEG)}, params={"type": "thumb"}
        )["media_id"]

    def draft(self, articles: int = 1, **fields) -> str:
        thumb = self.thumb()
        body = {"articles": [article(thumb, title=f"Article {n}", **fields) for n in range(articles)]}
        answer = self.post("cgi-bin/draft/add", body)
        assert set(answer) == {"media_id"}, answer
        return answer["media_id"]

    def sendall(self, media_id: str, *, clientmsgid: str | None = None, **filter_fields) -> dict:
        body = {
            "filter": {"is_to_all": True} if not filter_fields else {"is_to_all": False, **filter_fields},
            "mpnews": {"media_id": media_id},
            "msgtype": "mpnews",
            "send_ignore_reprint": 0,
        }
        if clientmsgid is not None:
            body["clientmsgid"] = clientmsgid
        return self.post("cgi-bin/message/mass/sendall", body)

    def send(self, media_id: str, touser: list[str], *, clientmsgid: str | None = None) -> dict:
        body = {"touser": touser, "mpnews": {"media_id": media_id}, "msgtype": "mpnews", "send_ignore_reprint": 1}
        if clientmsgid is not None:
            body["clientmsgid"] = clientmsgid
        return self.post("cgi-bin/message/mass/send", body)


def article(thumb_media_id: str, **fields) -> dict:
    return {
        "title": "Spring menu",
        "author": "Kitchen",
        "content": "<p>Fresh</p>",
        "thumb_media_id": thumb_media_id,
    } | fields


@pytest.fixture
def register(sandbox, sandbox_server):
    """Register an Official Account of a type (and with a callback) for the test; removed afterwards."""
    registered = []

    def account(account_type: str = "subscription", *, callback_url: str | None = None, mode: str = "plain") -> Account:
        appid = f"wxpublish{len(registered):09d}"
        callback = None
        if callback_url is not None:
            callback = {"url": callback_url, "token": CALLBACK_TOKEN, "mode": mode, "encoding_aes_key": AES_KEY}
        sandbox.register_app(appid, "publish-secret", "official_account", callback=callback, account_type=account_type)
        registered.append(appid)
        return Account(sandbox_server.url, appid, "publish-secret")

    yield account
    for appid in registered:
        sandbox.remove_app(appid)


def beijing_now(sandbox) -> datetime:
    return datetime.fromtimestamp(sandbox.advance_clock(0)["now"], tz=UTC).astimezone(BEIJING)


def advance_to(sandbox, when: datetime) -> None:
    """Move the sandbox clock forward to `when` (Beijing time)."""
    seconds = when.timestamp() - sandbox.advance_clock(0)["now"]
    assert seconds >= 0
    sandbox.advance_clock(seconds)


def first_of_next_month(moment: datetime) -> datetime:
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.replace(year=year, month=month, day=1, hour=0, minute=0, second=0, microsecond=0)


def parse(xml: bytes | str) -> ElementTree.Element:
    return ElementTree.fromstring(xml)


# --- media ---------------------------------------------------------------------------------


def test_uploadimg_takes_jpg_and_png_under_1_mb_judged_by_their_bytes(register):
    """上传图文消息图片 uploadImage, 注意事项 and 错误码 (40005, 40009)."""
    account = register()

    jpeg_url = account.upload_image(JPEG, "photo.jpg")
    png_named_jpg = account.post("cgi-bin/media/uploadimg", files={"media": ("photo.jpg", PNG)})
    gif = account.post("cgi-bin/media/uploadimg", files={"media": ("photo.jpg", GIF)})
    jpeg_named_gif = account.post("cgi-bin/media/uploadimg", files={"media": ("anim.gif", JPEG)})
    just_under = account.post("cgi-bin/media/uploadimg", files={"media": ("big.png", png_of(MB - 1))})
    one_mb = account.post("cgi-bin/media/uploadimg", files={"media": ("big.png", png_of(MB))})
    eight_mb = account.post("cgi-bin/media/uploadimg", files={"media": ("huge.jpg", jpeg_of(8 * MB))})
    nothing = account.post("cgi-bin/media/uploadimg", files={"other": ("photo.jpg", JPEG)})

    assert jpeg_url.startswith("http://mmbiz.qpic.cn/mmbiz_jpg/")
    assert png_named_jpg["url"].startswith("http://mmbiz.qpic.cn/mmbiz_png/")
    assert_wechat_error(gif, 40005, "invalid file type")
    assert set(jpeg_named_gif) == {"url"}
    assert set(just_under) == {"url"}
    assert_wechat_error(one_mb, 40009, "invalid image size")
    assert_wechat_error(eight_mb, 40009, "invalid image size")
    assert_wechat_error(nothing, 41005, "media data missing")


def test_add_material_takes_images_up_to_10_mb_and_jpg_thumbs_up_to_64_kb(register):
    """上传永久素材 addMaterial, 注意事项: image 10M bmp/png/jpeg/jpg/gif; thumb 64KB JPG (全局返回码说明 400xx)."""
    account = register()

    def add(kind: str, data: bytes, name: str = "file.jpg") -> dict:
        return account.post("cgi-bin/material/add_material", files={"media": (name, data)}, params={"type": kind})

    images = [add("image", data) for data in (JPEG, PNG, GIF, BMP, jpeg_of(10 * MB))]
    thumb = add("thumb", jpeg_of(64 * KB))

    for image in images:
        assert set(image) == {"media_id", "url"} and image["url"].startswith("http://mmbiz.qpic.cn/"), image
    assert set(thumb) == {"media_id", "url"}
    assert_wechat_error(add("image", jpeg_of(10 * MB + 1)), 40009, "invalid image size")
    assert_wechat_error(add("thumb", jpeg_of(64 * KB + 1)), 40006, "invalid media size")
    assert_wechat_error(add("thumb", PNG, "cover.jpg"), 40005, "invalid file type")
    assert_wechat_error(add("image", b"not an image at all"), 40005, "invalid file type")
    assert_wechat_error(add("voice", JPEG), 40004, "invalid media type")


def test_uploads_werkzeug_will_not_parse_are_refused_not_crashed_on(register):
    """全局返回码说明: 45002 content size out of limit for a form too big to take; never -1 system error."""
    account = register()

    huge_field = account.post("cgi-bin/media/uploadimg", files={"media": (None, b"x" * 600_000)})
    many_parts = account.post(
        "cgi-bin/material/add_material", files={f"f{n}": (None, b"x") for n in range(1_200)}, params={"type": "image"}
    )
    not_a_form = account.post("cgi-bin/media/uploadimg", data=b"just bytes")

    assert_wechat_error(huge_field, 45002, "content size out of limit")
    assert_wechat_error(many_parts, 45002, "content size out of limit")
    assert_wechat_error(not_a_form, 41005, "media data missing")


def test_publishing_endpoints_are_for_official_accounts_only(url, sandbox, register):
    """全局返回码说明: 48001 api unauthorized for a Mini Program's token."""
    token = mini_program_token(url)

    answers = [
        requests.post(url + path, params={"access_token": token}, json={}, timeout=TIMEOUT).json()
        for path in (
            "cgi-bin/media/uploadimg",
            "cgi-bin/material/add_material",
            "cgi-bin/draft/add",
            "cgi-bin/message/mass/sendall",
            "cgi-bin/message/mass/send",
            "cgi-bin/message/mass/preview",
            "cgi-bin/freepublish/submit",
            "cgi-bin/user/info/batchget",
            "cgi-bin/message/mass/delete",
        )
    ]

    for answer in answers:
        assert_wechat_error(answer, 48001, "api unauthorized")


# --- drafts --------------------------------------------------------------------------------


def test_draft_field_limits(register):
    """草稿箱 / 新建草稿, 请求参数 (limits) and 全局返回码说明 (45002-45008, 45110, 44003, 44004)."""
    account = register()
    thumb = account.thumb()

    def add(*articles: dict) -> dict:
        return account.post("cgi-bin/draft/add", {"articles": list(articles)})

    assert set(add(article(thumb, title="题" * 32, author="作" * 16, digest="摘" * 128))) == {"media_id"}
    assert_wechat_error(add(article(thumb, title="题" * 33)), 45003, "title size out of limit")
    assert_wechat_error(add(article(thumb, author="a" * 17)), 45110, "author size out of limit")
    assert_wechat_error(add(article(thumb, digest="d" * 129)), 45004, "description size out of limit")
    assert set(add(article(thumb, content="c" * 19_999))) == {"media_id"}
    assert_wechat_error(add(article(thumb, content="c" * 20_000)), 45002, "content size out of limit")
    assert_wechat_error(add(article(thumb, content=" ")), 44004, "empty content")
    assert set(add(article(thumb, content_source_url="https://e.com/" + "a" * 1010))) == {"media_id"}
    assert_wechat_error(
        add(article(thumb, content_source_url="https://e.com/" + "a" * 1011)), 45005, "url size out of limit"
    )
    assert set(add(*[article(thumb)] * 8)) == {"media_id"}
    assert_wechat_error(add(*[article(thumb)] * 9), 45008, "article size out of limit")
    assert_wechat_error(add(), 44003, "empty news data")
    assert_wechat_error(add(article(thumb, title=7)), 47001, "data format error")
    assert_wechat_error(add(article("no-such-media")), 40007, "invalid media_id")
    assert_wechat_error(account.post("cgi-bin/draft/add", {"articles": "x"}), 47001, "data format error")
    assert_wechat_error(account.post("cgi-bin/draft/add", data=b"[1, 2]"), 47001, "data format error")


def test_a_draft_needs_a_cover_of_its_own_account(register):
    """新建草稿: thumb_media_id must be this account's permanent media id (40007 invalid media_id)."""
    mine, other = register(), register()
    others_thumb = other.thumb()
    inline = mine.upload_image()

    answer = mine.post("cgi-bin/draft/add", {"articles": [article(others_thumb)]})
    not_a_media_id = mine.post("cgi-bin/draft/add", {"articles": [article(inline)]})

    assert_wechat_error(answer, 40007, "invalid media_id")
    assert_wechat_error(not_a_media_id, 40007, "invalid media_id")


def test_draft_content_keeps_only_this_accounts_uploadimg_images_and_no_scripts(register):
    """新建草稿 (content): JS removed; image URLs must come from uploadimg, others are filtered out."""
    account, other = register(), register()
    own = account.upload_image()
    others = other.upload_image()
    content = (
        f'<p onclick="steal()">Hello &amp; welcome</p><img src="{own}" alt="ours">'
        f'<img src="https://example.com/cat.jpg"><img src="{others}"><script>alert(1)</script>'
        f'<a href="javascript:alert(2)">link</a><section style="color: red">kept</section>'
    )
    thumb = account.thumb()

    media_id = account.post("cgi-bin/draft/add", {"articles": [article(thumb, content=content, digest="")]})["media_id"]
    stored = account.post("cgi-bin/draft/get", {"media_id": media_id})["news_item"][0]

    assert stored["content"] == (
        f'<p>Hello &amp; welcome</p><img src="{own}" alt="ours"><a>link</a><section style="color: red">kept</section>'
    )
    assert stored["digest"] == "Hello & welcome link kept"  # an empty digest is taken from the content
    assert stored["thumb_media_id"] == thumb
    assert stored["title"] == "Spring menu"
    assert_wechat_error(other.post("cgi-bin/draft/get", {"media_id": media_id}), 40007, "invalid media_id")


def test_only_single_article_drafts_keep_a_digest(register):
    """新建草稿 (digest): 仅有单图文消息才有摘要，多图文此处为空."""
    account = register()

    media_id = account.draft(articles=2, digest="a summary")

    items = account.post("cgi-bin/draft/get", {"media_id": media_id})["news_item"]
    assert [item["digest"] for item in items] == ["", ""]
    assert [item["title"] for item in items] == ["Article 0", "Article 1"]


# --- mass send quota -------------------------------------------------------------------------


def test_a_subscription_account_sends_once_a_beijing_day(sandbox, register):
    """群发接口和原创校验, 前言: 订阅号每天1条 (45028 has no masssend quota), in Beijing days."""
    account = register("subscription")
    draft = account.draft()
    sandbox.add_followers(account.appid, count=3)
    today = beijing_now(sandbox)
    advance_to(sandbox, (today + timedelta(days=1)).replace(hour=23, minute=59, second=0, microsecond=0))
    account.renew_token()

    at_2359 = account.sendall(draft, clientmsgid="day-1")
    second_the_same_day = account.sendall(draft, clientmsgid="day-1-again")
    sandbox.advance_clock(120)  # 00:01 the next Beijing day
    at_0001 = account.sendall(draft, clientmsgid="day-2")

    assert at_2359["errcode"] == 0 and at_2359["errmsg"] == "send job submission success"
    assert {"msg_id", "msg_data_id"} <= set(at_2359)
    assert_wechat_error(second_the_same_day, 45028, "has no masssend quota")
    assert at_0001["errcode"] == 0, at_0001
    assert sandbox.mass_sends(account.appid)["per_clientmsgid"] == {"day-1": 1, "day-2": 1}


def test_a_service_accounts_followers_each_receive_four_mass_sends_a_beijing_month(sandbox, register):
    """群发接口和原创校验, 前言: 服务号 "用户每月只能接收4条群发消息，多于4条的群发将对该用户发送失败";
    事件推送群发结果: FilterCount is counted after "用户接收已超4条的过滤". Months in Beijing time."""
    account = register("service")
    draft = account.draft()
    regulars = sandbox.add_followers(account.appid, count=5)["openids"]
    next_month = first_of_next_month(beijing_now(sandbox))
    advance_to(sandbox, next_month.replace(minute=10))
    account.renew_token()

    tag = sandbox.create_tag(account.appid, "Everyone")
    account.post("cgi-bin/tags/members/batchtagging", {"openid_list": regulars, "tagid": tag})
    firsts = [account.sendall(draft, clientmsgid=f"month-1-{n}") for n in range(4)]
    sandbox.advance_clock(2)  # WeChat knows when someone followed to the second (subscribe_time)
    newcomers = sandbox.add_followers(account.appid, count=2)["openids"]
    account.post("cgi-bin/tags/members/batchtagging", {"openid_list": newcomers, "tagid": tag})
    fifth_to_the_tag = account.sendall(draft, clientmsgid="month-1-4", tag_id=tag)
    to_regulars_and_newcomers = account.send(draft, [*regulars[:2], *newcomers], clientmsgid="month-1-5")
    advance_to(sandbox, first_of_next_month(next_month).replace(minute=1))
    account.renew_token()
    next_months_first = account.sendall(draft, clientmsgid="month-2-0")

    assert [answer["errcode"] for answer in [*firsts, fifth_to_the_tag, to_regulars_and_newcomers]] == [0] * 6
    counts = [(send["total_count"], send["filter_count"], send["sent_count"]) for send in sandbox.mass_sends()["sends"]]
    assert counts[:4] == [(5, 5, 5)] * 4
    assert counts[4] == (7, 2, 2)  # only the two newcomers had fewer than four this month
    assert counts[5] == (4, 2, 2)  # the regulars are filtered out, the newcomers get their second
    assert counts[6] == (7, 7, 7)
    assert next_months_first["errcode"] == 0


def test_a_service_account_makes_at_most_100_mass_sends_a_beijing_day(sandbox, register):
    """群发接口和原创校验, 前言: 服务号 "高级群发接口的每日调用限制为100次" (45028 has no masssend quota).

    To a tag: sends to all followers stop at four a month first.
    """
    account = register("service")
    draft = account.draft()
    sandbox.add_followers(account.appid, count=2)
    tag = sandbox.create_tag(account.appid, "Regulars")
    advance_to(sandbox, (beijing_now(sandbox) + timedelta(days=1)).replace(hour=8, minute=0, second=0))
    account.renew_token()

    answers = []
    for number in range(101):
        if number and number % 50 == 0:
            sandbox.advance_clock(61)  # past the 60 calls a minute
        answers.append(account.sendall(draft, clientmsgid=f"day-{number}", tag_id=tag))
    sandbox.advance_clock(86_400)
    account.renew_token()
    tomorrow = account.sendall(draft, clientmsgid="next-day", tag_id=tag)

    assert [answer["errcode"] for answer in answers[:100]] == [0] * 100
    assert_wechat_error(answers[100], 45028, "has no masssend quota")
    assert tomorrow["errcode"] == 0


def test_a_repeated_clientmsgid_is_refused_with_the_earlier_msg_id_for_24_hours(sandbox, register):
    """群发接口和原创校验: clientmsgid 24小时内重复 → 45065 clientmsgid exist, with the existing msg_id."""
    account = register("service")
    draft = account.draft()
    sandbox.add_followers(account.appid, count=2)

    first = account.sendall(draft, clientmsgid="push-7-batch-0")
    again = account.sendall(draft, clientmsgid="push-7-batch-0")
    other_draft_same_id = account.sendall(account.draft(), clientmsgid="push-7-batch-0")
    sandbox.advance_clock(86_401)
    account.renew_token()
    a_day_later = account.sendall(draft, clientmsgid="push-7-batch-0")

    assert first["errcode"] == 0
    for refused in (again, other_draft_same_id):
        assert refused["errcode"] == 45065 and refused["msg_id"] == first["msg_id"], refused
        assert refused["errmsg"].startswith("clientmsgid exist, rid: ")
    assert a_day_later["errcode"] == 0 and a_day_later["msg_id"] != first["msg_id"]
    assert sandbox.mass_sends(account.appid)["per_clientmsgid"] == {"push-7-batch-0": 2}


def test_a_retry_after_the_quota_is_spent_still_hears_45065_and_uses_no_quota(sandbox, register):
    """群发接口和原创校验: a repeated clientmsgid is a duplicate, not a new send, so it never hears 45028."""
    account = register("subscription")
    draft = account.draft()
    sandbox.add_followers(account.appid, count=2)

    first = account.sendall(draft, clientmsgid="only-batch")
    retried = account.sendall(draft, clientmsgid="only-batch")

    assert retried["errcode"] == 45065 and retried["msg_id"] == first["msg_id"]
    assert sandbox.mass_sends(account.appid)["count"] == 1


def test_without_a_clientmsgid_the_same_audience_and_draft_is_a_repeat(sandbox, register):
    """群发接口和原创校验: 如不填，则后台默认以群发范围和群发内容的摘要值做为clientmsgid."""
    account = register("service")
    draft = account.draft()
    openids = sandbox.add_followers(account.appid, count=4)["openids"]

    first = account.send(draft, openids[:2])
    same = account.send(draft, list(reversed(openids[:2])))
    other_audience = account.send(draft, openids[2:])

    assert first["errcode"] == 0
    assert same["errcode"] == 45065 and same["msg_id"] == first["msg_id"]
    assert other_audience["errcode"] == 0


def test_clientmsgid_and_openid_list_limits(sandbox, register):
    """群发接口和原创校验: clientmsgid ≤ 64 bytes (45067); touser 2-10,000 openids (40130, 40032)."""
    account = register("service")
    draft = account.draft()
    openids = sandbox.add_followers(account.appid, count=2)["openids"]

    assert account.sendall(draft, clientmsgid="c" * 64)["errcode"] == 0
    assert_wechat_error(account.sendall(draft, clientmsgid="c" * 65), 45067, "clientmsgid size out of limit")
    assert_wechat_error(account.send(draft, openids[:1]), 40130, "invalid openid list size, at least two openid")
    too_many = [f"o{n:027d}" for n in range(10_001)]
    assert_wechat_error(account.send(draft, too_many), 40032, "invalid openid list size")


def test_sixty_mass_send_calls_a_minute(sandbox, register):
    """群发接口和原创校验, 前言: 群发接口每分钟限制请求60次 (refused with 45011, 全局返回码说明)."""
    account = register()
    draft = account.draft()
    openid = sandbox.add_followers(account.appid, count=1)["openids"][0]
    preview = {"touser": openid, "mpnews": {"media_id": draft}, "msgtype": "mpnews"}

    answers = [account.post("cgi-bin/message/mass/preview", preview) for _ in range(60)]
    sixty_first = account.sendall(draft)
    sandbox.advance_clock(61)
    a_minute_later = account.sendall(draft)

    assert all(answer["errcode"] == 0 for answer in answers)
    assert sixty_first["errcode"] == 45011
    assert a_minute_later["errcode"] == 0


def test_preview_uses_no_quota_and_pushes_nothing(sandbox, register, receiver):
    """群发接口和原创校验: 预览接口 sends to one user to check; it is not a mass send."""
    account = register("subscription", callback_url=receiver.url)
    draft = account.draft()
    openid = sandbox.add_followers(account.appid, count=1)["openids"][0]

    by_openid = account.post(
        "cgi-bin/message/mass/preview", {"touser": openid, "mpnews": {"media_id": draft}, "msgtype": "mpnews"}
    )
    by_wechat_id = account.post(
        "cgi-bin/message/mass/preview",
        {"towxname": "staff-wechat-id", "mpnews": {"media_id": draft}, "msgtype": "mpnews"},
    )
    stranger = account.post(
        "cgi-bin/message/mass/preview",
        {"touser": "o-not-a-follower-000000000000", "mpnews": {"media_id": draft}, "msgtype": "mpnews"},
    )
    sandbox.deliver_due_callbacks()
    send = account.sendall(draft)

    assert by_openid["errcode"] == 0 and by_openid["errmsg"] == "preview success"
    assert by_wechat_id["errcode"] == 0
    assert_wechat_error(stranger, 40003, "invalid openid")
    assert send["errcode"] == 0  # the day's one mass send was still there
    listing = sandbox.mass_sends(account.appid)
    assert [preview["to"] for preview in listing["previews"]] == [openid, "staff-wechat-id"]
    assert listing["count"] == 1
    assert [delivery["description"] for delivery in sandbox.outbox()] == [
        f"MASSSENDJOBFINISH for msg_id {send['msg_id']}"
    ]


# --- MASSSENDJOBFINISH ---------------------------------------------------------------------------


def test_a_send_to_a_tag_ends_with_massendjobfinish_counting_the_tag(sandbox, register, receiver):
    """事件推送群发结果: MASSSENDJOBFINISH, signed (接入概述), counting the tag's followers, one URL per article."""
    account = register(callback_url=receiver.url)
    vip = sandbox.create_tag(account.appid, "VIP")
    sandbox.add_followers(account.appid, count=200_000)
    sandbox.add_followers(account.appid, count=1_500, tag_ids=[vip])
    draft = account.draft(articles=2)

    answer = account.sendall(draft, tag_id=vip)

    push = receiver.wait_for(1)[0]
    check_signature(CALLBACK_TOKEN, push.query["signature"], push.query["timestamp"], push.query["nonce"])
    event = parse(push.body)
    assert event.findtext("MsgType") == "event" and event.findtext("Event") == "MASSSENDJOBFINISH"
    assert event.findtext("ToUserName").startswith("gh_")
    assert int(event.findtext("MsgID")) == answer["msg_id"]
    assert event.findtext("Status") == "send success"
    counts = [int(event.findtext(name)) for name in ("TotalCount", "FilterCount", "SentCount", "ErrorCount")]
    assert counts == [1_500, 1_500, 1_500, 0]
    assert event.findtext("ArticleUrlResult/Count") == "2"
    items = event.findall("ArticleUrlResult/ResultList/item")
    assert [item.findtext("ArticleIdx") for item in items] == ["1", "2"]
    assert all(item.findtext("ArticleUrl").startswith("https://mp.weixin.qq.com/s?__biz=") for item in items)
    state = sandbox.state()["parts"]["official_account_followers"][account.appid]
    assert len(json.dumps(state)) < 500  # 201,500 followers, stored as two runs


def test_a_send_to_openids_counts_only_followers(sandbox, register, receiver):
    """事件推送群发结果: TotalCount is the audience named; FilterCount those it can reach (followers)."""
    account = register("service", callback_url=receiver.url)
    sandbox.add_followers(account.appid, openids=["oFollowerA0000000000000000001", "oFollowerB0000000000000000002"])
    generated = sandbox.add_followers(account.appid, count=1)["openids"]
    draft = account.draft()

    answer = account.send(
        draft,
        [*generated, "oFollowerA0000000000000000001", "oFollowerB0000000000000000002", "oStranger1", "oStranger2"],
    )

    event = parse(receiver.wait_for(1)[0].body)
    assert int(event.findtext("MsgID")) == answer["msg_id"]
    counts = [int(event.findtext(name)) for name in ("TotalCount", "FilterCount", "SentCount", "ErrorCount")]
    assert counts == [5, 3, 3, 0]
    assert sandbox.mass_sends(account.appid)["sends"][0]["sent_count"] == 3


def test_massendjobfinish_is_encrypted_in_safe_mode(sandbox, register, receiver):
    """消息加解密说明: in safe mode the event is AES-encrypted with the EncodingAESKey (checked with wechatpy)."""
    account = register(callback_url=receiver.url, mode="safe")
    sandbox.add_followers(account.appid, count=10)

    answer = account.sendall(account.draft())

    push = receiver.wait_for(1)[0]
    crypto = WeChatCrypto(CALLBACK_TOKEN, AES_KEY, account.appid)
    plain = crypto.decrypt_message(push.body, push.query["msg_signature"], push.query["timestamp"], push.query["nonce"])
    event = parse(plain)
    assert event.findtext("Event") == "MASSSENDJOBFINISH"
    assert int(event.findtext("MsgID")) == answer["msg_id"]
    assert event.findtext("SentCount") == "10"


def test_a_send_can_be_made_to_end_with_a_review_failure(sandbox, register, receiver):
    """事件推送群发结果: Status err(20001) (politics) and the like; mass/get then says SEND_FAIL."""
    account = register(callback_url=receiver.url)
    sandbox.add_followers(account.appid, count=7)
    sandbox.end_next_mass_send_with(account.appid, "err(20001)")

    answer = account.sendall(account.draft())

    event = parse(receiver.wait_for(1)[0].body)
    assert event.findtext("Status") == "err(20001)"
    counts = [int(event.findtext(name)) for name in ("TotalCount", "FilterCount", "SentCount", "ErrorCount")]
    assert counts == [7, 7, 0, 7]
    assert event.findtext("ArticleUrlResult/Count") == "0"
    status = account.post("cgi-bin/message/mass/get", {"msg_id": answer["msg_id"]})
    assert status == {"msg_id": answer["msg_id"], "msg_status": "SEND_FAIL"}
    with pytest.raises(SandboxControlError):
        sandbox.end_next_mass_send_with(account.appid, "rejected")


def test_mass_get_reports_a_successful_send(sandbox, register):
    """群发接口和原创校验, 查询群发消息发送状态: {"msg_id", "msg_status": "SEND_SUCCESS"}."""
    account = register()
    sandbox.add_followers(account.appid, count=1)

    answer = account.sendall(account.draft())

    assert account.post("cgi-bin/message/mass/get", {"msg_id": answer["msg_id"]}) == {
        "msg_id": answer["msg_id"],
        "msg_status": "SEND_SUCCESS",
    }
    assert_wechat_error(account.post("cgi-bin/message/mass/get", {"msg_id": 1}), 40007, "invalid media_id")


def test_mass_send_refuses_what_it_cannot_send(sandbox, register):
    """群发接口和原创校验 and 全局返回码说明: 40007 not a draft of this account, 45159 unknown tag, 40008 not mpnews."""
    account, other = register(), register()
    others_draft = other.draft()
    draft = account.draft()

    assert_wechat_error(account.sendall(others_draft), 40007, "invalid media_id")
    assert_wechat_error(account.sendall(draft, tag_id=999), 45159, "invalid tag id")
    text = {"filter": {"is_to_all": True}, "text": {"content": "hi"}, "msgtype": "text"}
    assert_wechat_error(account.post("cgi-bin/message/mass/sendall", text), 40008, "invalid message type")


@pytest.mark.parametrize(
    "path, body",
    [
        ("cgi-bin/message/mass/sendall", {"filter": "all", "mpnews": {"media_id": "x"}, "msgtype": "mpnews"}),
        (
            "cgi-bin/message/mass/sendall",
            {"filter": {"is_to_all": "yes"}, "mpnews": {"media_id": "x"}, "msgtype": "mpnews"},
        ),
        ("cgi-bin/message/mass/sendall", {"filter": {"is_to_all": False, "tag_id": [1]}, "msgtype": "mpnews"}),
        ("cgi-bin/message/mass/sendall", {"filter": {"is_to_all": True}, "mpnews": "x", "msgtype": "mpnews"}),
        (
            "cgi-bin/message/mass/sendall",
            {"filter": {"is_to_all": True}, "mpnews": {"media_id": 5}, "msgtype": "mpnews"},
        ),
        ("cgi-bin/message/mass/send", {"touser": "o1", "mpnews": {"media_id": "x"}, "msgtype": "mpnews"}),
        ("cgi-bin/message/mass/send", {"touser": [1, 2], "mpnews": {"media_id": "x"}, "msgtype": "mpnews"}),
        ("cgi-bin/message/mass/preview", {"touser": ["o1"], "mpnews": {"media_id": "x"}, "msgtype": "mpnews"}),
        ("cgi-bin/message/mass/get", {"msg_id": {"a": 1}}),
        ("cgi-bin/draft/add", {"articles": [[]]}),
        (
            "cgi-bin/draft/add",
            {"articles": [{"title": "t", "content": "c", "thumb_media_id": "x", "need_open_comment": "yes"}]},
        ),
        ("cgi-bin/draft/get", {"media_id": ["x"]}),
        ("cgi-bin/freepublish/submit", {"media_id": None}),
        ("cgi-bin/freepublish/get", {"publish_id": [1]}),
    ],
)
def test_bad_shapes_get_wechat_errcodes_never_a_crash(register, path, body):
    """全局返回码说明: a malformed request is answered with an errcode (47001, 40007, ...), never -1 system error."""
    account = register()

    answer = account.post(path, body)

    assert answer["errcode"] not in (0, -1), answer
    assert answer["errmsg"].rsplit(", rid: ", 1)[0] != "system error"


# --- publishing without notifying ----------------------------------------------------------------


def test_freepublish_uses_no_quota_and_reports_article_urls(sandbox, register, receiver):
    """发布能力 / 发布接口: submit → publish_id; PUBLISHJOBFINISH and freepublish/get give each article's URL."""
    account = register(callback_url=receiver.url)
    sandbox.add_followers(account.appid, count=1)
    assert account.sendall(account.draft())["errcode"] == 0  # the day's quota is spent
    receiver.wait_for(1)
    draft = account.draft(articles=3)

    submitted = account.post("cgi-bin/freepublish/submit", {"media_id": draft})

    assert submitted["errcode"] == 0 and submitted["publish_id"]
    event = parse(receiver.wait_for(2)[1].body)
    assert event.findtext("Event") == "PUBLISHJOBFINISH"
    info = event.find("PublishEventInfo")
    assert info.findtext("publish_id") == submitted["publish_id"]
    assert info.findtext("publish_status") == "0"
    pushed_urls = [item.findtext("article_url") for item in info.findall("article_detail/item")]
    published = account.post("cgi-bin/freepublish/get", {"publish_id": submitted["publish_id"]})
    assert published["publish_status"] == 0
    assert [item["article_url"] for item in published["article_detail"]["item"]] == pushed_urls
    assert len(pushed_urls) == 3 and len(set(pushed_urls)) == 3
    assert_wechat_error(account.post("cgi-bin/freepublish/submit", {"media_id": "nope"}), 40007, "invalid media_id")


# --- control API and state -------------------------------------------------------------------------


def test_account_type_is_registered_shown_and_checked(sandbox, own_sandbox):
    """群发接口和原创校验: the quota depends on the account type, so the sandbox must know it."""
    body = {"appid": "wxservice", "secret": "s", "kind": "official_account", "account_type": "service"}

    registered = requests.post(own_sandbox.url + "sandbox/apps", json=body, timeout=TIMEOUT)
    bad_type = requests.post(
        own_sandbox.url + "sandbox/apps", json={**body, "account_type": "enterprise"}, timeout=TIMEOUT
    )
    mini = requests.post(
        own_sandbox.url + "sandbox/apps",
        json={"appid": "wxmini2", "secret": "s", "kind": "mini_program", "account_type": "service"},
        timeout=TIMEOUT,
    )

    assert registered.status_code == 201 and registered.json()["account_type"] == "service"
    assert bad_type.status_code == 400 and "account_type must be one of" in bad_type.json()["errmsg"]
    assert mini.status_code == 400 and "Official Accounts only" in mini.json()["errmsg"]
    state = requests.get(own_sandbox.url + "sandbox/state", timeout=TIMEOUT).json()
    assert {"appid": "wxservice", "account_type": "service"}.items() <= next(
        app for app in state["apps"] if app["appid"] == "wxservice"
    ).items()


def test_follower_and_tag_control_input_is_checked(sandbox):
    """Control API: bad input is a 400 saying why."""
    appid = settings.WECHAT_OFFICIAL_ACCOUNT_APPID

    for call in (
        lambda: sandbox.add_followers(appid),
        lambda: sandbox.add_followers(appid, count=0),
        lambda: sandbox.add_followers(appid, openids=["bad openid!"]),
        lambda: sandbox.add_followers(appid, count=1, tag_ids=[12345]),
        lambda: sandbox.add_followers(settings.WECHAT_MINI_PROGRAM_APPID, count=1),
        lambda: sandbox.create_tag(appid, "t" * 31),
    ):
        with pytest.raises(SandboxControlError) as refused:
            call()
        assert refused.value.status == 400

    tag = sandbox.create_tag(appid, "Regulars")
    sandbox.add_followers(appid, openids=["oRegular000000000000000000001"], tag_ids=[tag])
    assert sandbox.followers(appid) == {
        "appid": appid,
        "total": 1,
        "tags": [{"id": tag, "name": "Regulars", "count": 1}],
    }


def test_quota_and_clientmsgids_survive_a_snapshot_and_restore(sandbox, register):
    """GET /sandbox/state then PUT: the day's spent quota and the clientmsgid memory come back with it."""
    account = register()
    sandbox.add_followers(account.appid, count=3)
    draft = account.draft()
    first = account.sendall(draft, clientmsgid="kept")
    snapshot = sandbox.state()

    sandbox.reset()
    assert sandbox.mass_sends(account.appid)["count"] == 0
    sandbox.restore_state(snapshot)

    again = account.sendall(draft, clientmsgid="kept")
    other = account.sendall(draft, clientmsgid="new")
    assert again["errcode"] == 45065 and again["msg_id"] == first["msg_id"]
    assert_wechat_error(other, 45028, "has no masssend quota")
    assert account.post("cgi-bin/draft/get", {"media_id": draft})["news_item"][0]["title"] == "Article 0"


def test_removing_an_account_forgets_its_media_drafts_followers_and_sends(sandbox, register, sandbox_server):
    """DELETE /sandbox/apps/<appid>: nothing of the account stays behind."""
    account = register()
    sandbox.add_followers(account.appid, count=3)
    account.sendall(account.draft())

    sandbox.remove_app(account.appid)
    sandbox.register_app(account.appid, "publish-secret", "official_account")

    state = sandbox.state()["parts"]
    assert account.appid not in state["official_account_followers"]
    assert state["official_account_mass_sends"]["sends"] == []
    assert state["official_account_publishing"]["drafts"] == {}
    assert state["official_account_publishing"]["material"] == {}


def test_wechatpy_publishes_and_mass_sends_unmodified(sandbox, register):
    """wechatpy (an implementation independent of the sandbox) drives the whole flow: media, draft, sendall, 45065."""
    account = register()
    sandbox.add_followers(account.appid, count=12)
    client = WeChatClient(account.appid, "publish-secret", access_token=account.token)
    client.API_BASE_URL = account.url + "cgi-bin/"

    inline = client.media.upload_image(("inline.png", PNG))
    thumb = client.material.add("thumb", ("cover.jpg", JPEG))["media_id"]
    body = f'<p>Hi</p><img src="{inline}"><img src="https://elsewhere.example/x.png">'
    media_id = client.draft.add([{"title": "Hello", "content": body, "thumb_media_id": thumb}])["media_id"]
    sent = client.message.send_mass_article(media_id, is_to_all=True, client_msg_id="wechatpy-1")
    with pytest.raises(WeChatClientException) as repeated:
        client.message.send_mass_article(media_id, is_to_all=True, client_msg_id="wechatpy-1")

    assert client.draft.get(media_id)["news_item"][0]["content"] == f'<p>Hi</p><img src="{inline}">'
    assert sent["errcode"] == 0 and sent["msg_id"]
    assert repeated.value.errcode == 45065
    assert client.message.get_mass(sent["msg_id"])["msg_status"] == "SEND_SUCCESS"


# --- followers through WeChat's user API ------------------------------------------------------------


def test_user_get_pages_the_followers_10000_at_a_time(sandbox, register):
    """用户管理 / 获取用户列表: up to 10,000 openids a call, the next page from next_openid, count 0 at the end."""
    account = register()
    generated = sandbox.add_followers(account.appid, count=25_001)["openids"]
    sandbox.add_followers(account.appid, openids=["oNamedFollower00000000000001", "oNamedFollower00000000000002"])

    pages, next_openid = [], ""
    while True:
        page = requests.get(
            account.url + "cgi-bin/user/get",
            params={"access_token": account.token, "next_openid": next_openid},
            timeout=TIMEOUT,
        ).json()
        pages.append(page)
        if page["count"] == 0:
            break
        next_openid = page["next_openid"]

    assert [page["count"] for page in pages] == [10_000, 10_000, 5_003, 0]
    assert all(page["total"] == 25_003 for page in pages)
    openids = [openid for page in pages[:-1] for openid in page["data"]["openid"]]
    assert len(set(openids)) == 25_003 and all(len(openid) == 28 for openid in openids)
    assert openids[0] == generated[0] and openids[-1] == "oNamedFollower00000000000002"
    assert pages[-1] == {"total": 25_003, "count": 0, "next_openid": ""}
    stranger = requests.get(
        account.url + "cgi-bin/user/get",
        params={"access_token": account.token, "next_openid": "oNotAFollower"},
        timeout=TIMEOUT,
    ).json()
    assert_wechat_error(stranger, 40003, "invalid openid")


def test_batchget_and_tags_get_tell_followers_and_their_tags(sandbox, register):
    """批量获取用户基本信息 (100 a call; subscribe 0 for a non-follower) and 用户标签管理 / 获取公众号已创建的标签."""
    account = register()
    vip = sandbox.create_tag(account.appid, "VIP")
    tagged = sandbox.add_followers(account.appid, count=3, tag_ids=[vip])["openids"]
    sandbox.add_followers(account.appid, openids=["oNamedFollower00000000000001"])

    users = [{"openid": tagged[0], "lang": "zh_CN"}, {"openid": "oNamedFollower00000000000001"}, {"openid": "oGone"}]
    info = account.post("cgi-bin/user/info/batchget", {"user_list": users})["user_info_list"]
    too_many = account.post("cgi-bin/user/info/batchget", {"user_list": [{"openid": "o"}] * 101})
    tags = requests.get(account.url + "cgi-bin/tags/get", params={"access_token": account.token}, timeout=TIMEOUT)

    assert [(user["openid"], user["subscribe"]) for user in info] == [
        (tagged[0], 1),
        ("oNamedFollower00000000000001", 1),
        ("oGone", 0),
    ]
    assert info[0]["tagid_list"] == [vip] and info[1]["tagid_list"] == []
    assert abs(info[0]["subscribe_time"] - time.time()) < 60
    assert info[2] == {"subscribe": 0, "openid": "oGone"}
    assert_wechat_error(too_many, 40032, "invalid openid list size")
    assert tags.json() == {"tags": [{"id": vip, "name": "VIP", "count": 3}]}


def test_mass_delete_marks_the_send_deleted(sandbox, register):
    """群发接口和原创校验, 删除群发: article_idx 0 deletes the whole send; mass/get then says DELETE."""
    account = register()
    sandbox.add_followers(account.appid, count=2)
    sent = account.sendall(account.draft(articles=2))

    one_article = account.post("cgi-bin/message/mass/delete", {"msg_id": sent["msg_id"], "article_idx": 2})
    still_sent = account.post("cgi-bin/message/mass/get", {"msg_id": sent["msg_id"]})
    whole = account.post("cgi-bin/message/mass/delete", {"msg_id": sent["msg_id"]})

    assert one_article == {"errcode": 0, "errmsg": "ok"} and whole == {"errcode": 0, "errmsg": "ok"}
    assert still_sent["msg_status"] == "SEND_SUCCESS"
    assert account.post("cgi-bin/message/mass/get", {"msg_id": sent["msg_id"]})["msg_status"] == "DELETE"
    out_of_range = account.post("cgi-bin/message/mass/delete", {"msg_id": sent["msg_id"], "article_idx": 3})
    assert_wechat_error(out_of_range, 47001, "data format error")


# --- quota per account type, console sends, outcomes set through the control API ---------------


def test_a_subscription_account_cannot_send_to_an_openid_list(sandbox, register):
    """接口目录: 根据OpenID列表群发 is for service accounts (订阅号不可用): 48001 api unauthorized."""
    account = register("subscription")
    openids = sandbox.add_followers(account.appid, count=3)["openids"]

    refused = account.send(account.draft(), openids, clientmsgid="list-1")

    assert_wechat_error(refused, 48001, "api unauthorized")
    assert sandbox.mass_sends(account.appid)["count"] == 0


def test_a_service_account_sends_to_all_four_times_a_month_and_to_tags_beyond(sandbox, register):
    """群发接口和原创校验, 前言: 服务号 is_to_all sends at most 4 a Beijing month; tag and openid sends not counted."""
    account = register("service")
    draft = account.draft()
    openids = sandbox.add_followers(account.appid, count=3)["openids"]
    tag = sandbox.create_tag(account.appid, "Regulars")
    advance_to(sandbox, first_of_next_month(beijing_now(sandbox)).replace(hour=9))
    account.renew_token()

    to_all = [account.sendall(draft, clientmsgid=f"all-{number}") for number in range(5)]
    to_tag = account.sendall(draft, clientmsgid="tag-1", tag_id=tag)
    to_list = account.send(draft, openids, clientmsgid="list-1")

    assert [answer["errcode"] for answer in to_all[:4]] == [0] * 4
    assert_wechat_error(to_all[4], 45028, "has no masssend quota")
    assert (to_tag["errcode"], to_list["errcode"]) == (0, 0)


def test_console_sends_count_in_the_quota_and_in_each_followers_four(sandbox, register):
    """群发接口和原创校验, 前言: a send from the MP console counts (POST /sandbox/official-account/console-sends)."""
    subscription, service = register("subscription"), register("service")
    sandbox.add_followers(subscription.appid, count=2)
    service_openids = sandbox.add_followers(service.appid, count=3)["openids"]
    sandbox.advance_clock(2)

    sandbox.register_console_send(subscription.appid)
    for _ in range(4):
        sandbox.register_console_send(service.appid)
    subscription.renew_token()
    service.renew_token()
    subscriptions_send = subscription.sendall(subscription.draft(), clientmsgid="after-console")
    services_to_all = service.sendall(service.draft(), clientmsgid="after-console")
    services_list = service.send(service.draft(), service_openids, clientmsgid="list")

    assert_wechat_error(subscriptions_send, 45028, "has no masssend quota")
    assert_wechat_error(services_to_all, 45028, "has no masssend quota")
    assert services_list["errcode"] == 0
    [sent] = sandbox.mass_sends(service.appid)["sends"]
    assert (sent["total_count"], sent["filter_count"]) == (3, 0)  # each follower had four from the console
    with pytest.raises(SandboxControlError):
        sandbox.register_console_send("wxnosuchaccount000")


def test_mass_get_answers_sending_while_set_so(sandbox, register):
    """查询群发消息发送状态: msg_status SENDING (POST /sandbox/official-account/mass-send-state), then cleared."""
    account = register()
    sandbox.add_followers(account.appid, count=2)
    answer = account.sendall(account.draft())

    sandbox.set_mass_send_state(answer["msg_id"], "SENDING")
    sending = account.post("cgi-bin/message/mass/get", {"msg_id": answer["msg_id"]})
    sandbox.set_mass_send_state(answer["msg_id"], None)
    ended = account.post("cgi-bin/message/mass/get", {"msg_id": answer["msg_id"]})

    assert sending == {"msg_id": answer["msg_id"], "msg_status": "SENDING"}
    assert ended == {"msg_id": answer["msg_id"], "msg_status": "SEND_SUCCESS"}
    with pytest.raises(SandboxControlError):
        sandbox.set_mass_send_state(answer["msg_id"], "LOST")


def test_a_successful_send_can_end_with_an_empty_article_url_result(sandbox, register, receiver):
    """事件推送群发结果: ArticleUrlResult with Count 0, set by "article_urls": false on mass-send-outcome."""
    account = register(callback_url=receiver.url)
    sandbox.add_followers(account.appid, count=2)
    sandbox.end_next_mass_send_with(account.appid, "send success", article_urls=False)

    account.sendall(account.draft(2))

    event = parse(receiver.wait_for(1)[0].body)
    assert event.findtext("Status") == "send success"
    assert event.findtext("ArticleUrlResult/Count") == "0"
    assert event.findall("ArticleUrlResult/ResultList/item") == []


def test_a_publication_can_be_made_to_end_with_any_publish_status_and_fail_idx(sandbox, register, receiver):
    """发布状态轮询接口: publish_status 0–6, fail_idx, article_detail only on success (POST .../publish-outcome)."""
    account = register(callback_url=receiver.url)
    sandbox.set_publish_outcome(account.appid, 1)
    publishing = account.post("cgi-bin/freepublish/submit", {"media_id": account.draft(2)})["publish_id"]
    sandbox.set_publish_outcome(account.appid, 4, fail_idx=[2])
    rejected = account.post("cgi-bin/freepublish/submit", {"media_id": account.draft(2)})["publish_id"]

    still = account.post("cgi-bin/freepublish/get", {"publish_id": publishing})
    refused = account.post("cgi-bin/freepublish/get", {"publish_id": rejected})
    [event] = receiver.wait_for(1)  # only the rejection: a publication still publishing has not ended
    sandbox.set_publish_outcome(account.appid, 0, publish_id=publishing)
    published = account.post("cgi-bin/freepublish/get", {"publish_id": publishing})

    assert (still["publish_status"], still["article_detail"], still["fail_idx"]) == (1, {"count": 0, "item": []}, [])
    assert (refused["publish_status"], refused["article_detail"]["count"], refused["fail_idx"]) == (4, 0, [2])
    info = parse(event.body).find("PublishEventInfo")
    assert (info.findtext("publish_status"), [item.text for item in info.findall("fail_idx")]) == ("4", ["2"])
    assert published["publish_status"] == 0 and published["article_detail"]["count"] == 2
    assert len(receiver.wait_for(2)) == 2  # PUBLISHJOBFINISH once it ended
    with pytest.raises(SandboxControlError):
        sandbox.set_publish_outcome(account.appid, 7)
