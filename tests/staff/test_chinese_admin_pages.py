"""Every admin page renders in Chinese: no translation breaks a page, no English label is left in the menu."""

import re
from zoneinfo import ZoneInfo

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.factories import PaymentFactory, PushFactory
from tests.orders.reconciliation_helpers import order_of

pytestmark = [pytest.mark.django_db, pytest.mark.chinese_staff]


@pytest.fixture
def chinese_superuser(client):
    user = get_user_model().objects.create_superuser("laowang", password="pw-for-tests-only")
    client.force_login(user)
    return user


@pytest.fixture
def some_rows():
    """A row in the busiest tables, so change pages and list cells render translated values."""
    PaymentFactory(order=order_of(128000))
    PushFactory()


def _admin_urls() -> list[str]:
    urls = []
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[first.pk]))
    return urls


def test_every_changelist_and_change_page_renders_in_chinese(client, chinese_superuser, some_rows):
    for url in _admin_urls():
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert '<html lang="zh-hans"' in page, url


def test_the_menu_names_the_apps_and_models_in_chinese(client, chinese_superuser):
    page = client.get("/admin/").content.decode()

    for chinese in ("订单", "商品", "推送", "公众号", "对账记录", "库存调整", "粉丝"):
        assert chinese in page, chinese
    for english in ("Reconciliation runs", "Stock adjustments", "Payment notifications", "Follower tags"):
        assert english not in page, english


def test_money_and_time_read_the_chinese_way_on_the_order_list(client, chinese_superuser):
    order = order_of(128000)

    page = client.get(reverse("admin:orders_order_changelist")).content.decode()

    assert "¥1,280.00" in page
    created = order.created_at.astimezone(ZoneInfo("Asia/Shanghai"))
    assert f"{created.year}年{created.month}月{created.day}日 {created:%H:%M}" in page


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= character <= "\u9fff" for character in text)


def test_every_changelists_search_hint_is_in_chinese(client, chinese_superuser):
    """The hint under a list's search box was a plain string on five order and reconciliation lists."""
    hints = {
        model._meta.label: str(model_admin.search_help_text)
        for model, model_admin in admin.site._registry.items()
        if model_admin.search_help_text
    }
    assert "orders.Order" in hints and "orders.Discrepancy" in hints
    assert {label: hint for label, hint in hints.items() if not _has_chinese(hint)} == {}
    page = client.get(reverse("admin:orders_order_changelist")).content.decode()
    assert "订单号、手机号或 openid（完全匹配）。" in page


def test_the_refund_pages_kinds_of_refund_are_in_chinese(client, chinese_superuser):
    payment = PaymentFactory(order=order_of(3990))

    page = client.get(reverse("admin:orders_order_refund", args=[payment.order.pk])).content.decode()

    assert "全额：退还尚未退款的全部金额" in page and "部分：退还下面填写的金额" in page
    assert "Full: everything not yet refunded" not in page


def test_the_editors_image_button_and_status_line_speak_the_staff_members_language(client, chinese_superuser):
    """The editor's own module wrote "insert image", "Uploading …" and "… inserted." in English."""
    import json
    from html import unescape

    page = client.get(reverse("admin:articles_article_add")).content.decode()

    config = json.loads(unescape(re.search(r'data-django-prose-editor-configurable="([^"]*)"', page)[1]))
    assert config["extensions"]["WeChatImage"]["messages"] == {
        "button": "插入图片",
        "uploading": "正在上传 {name}…",
        "inserted": "已插入 {name}。",
        "failed": "上传失败（HTTP {status}）。",
    }


def test_an_order_line_shows_its_specs_as_words_not_json(client, chinese_superuser):
    from orders.services.placement import order_create
    from tests.factories import AddressFactory, SkuFactory

    address = AddressFactory()
    sku = SkuFactory(specs={"颜色": "雾灰", "床宽": "1.5m"}, stock=3)
    plain = SkuFactory(stock=3)
    order = order_create(
        customer=address.customer,
        address_id=address.pk,
        items=[{"sku_id": sku.pk, "quantity": 1}, {"sku_id": plain.pk, "quantity": 1}],
    )

    page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()

    # PostgreSQL's jsonb keeps the keys in an order of its own: the words, whichever comes first.
    cells = sorted(text for text in re.findall(r"field-spec_values[^>]*>([^<]*)<", page) if text.strip())
    assert len(cells) == 2 and cells[0] == "—", cells
    assert sorted(cells[1].split(" / ")) == ["床宽: 1.5m", "颜色: 雾灰"]


def test_a_discrepancys_detail_is_not_called_an_address():
    """One msgid served all three: discrepancies and buyers' messages read “详细地址” above what was found."""
    from django.utils import translation

    from orders.models import Address, Discrepancy
    from subscribe_messages.models import SubscribeMessage

    with translation.override("zh-hans"):
        assert str(Discrepancy._meta.get_field("detail").verbose_name) == "详情"
        assert str(Address._meta.get_field("detail").verbose_name) == "详细地址"
        assert str(SubscribeMessage._meta.get_field("detail").verbose_name) == "详情"
