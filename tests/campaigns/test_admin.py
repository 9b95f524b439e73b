"""Campaigns and Mini Program codes in the admin, as Marketing uses them."""

import io

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils.html import strip_tags
from PIL import Image

from campaigns.code_services import mini_program_code_generate
from campaigns.models import Campaign, MiniProgramCode
from campaigns.services import campaign_create
from tests.factories import ProductFactory
from wechat.merchants import mini_program_default

pytestmark = pytest.mark.django_db

CODE_PATH = "/wxa/getwxacodeunlimit"


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def marketer(client, django_user_model):
    user = django_user_model.objects.create_user(username="marketer", is_staff=True)
    user.groups.add(Group.objects.get(name="Marketing"))
    client.force_login(user)
    return user


def _code_form(campaign: Campaign, **overrides) -> dict:
    return {
        "campaign": campaign.pk,
        "mini_program": mini_program_default().pk,
        "product": "",
        "page": "pages/index/index",
        "env_version": "release",
        "width": 430,
        **overrides,
    }


def test_marketing_starts_a_poster_campaign_and_gets_a_code(client, marketer):
    response = client.post(
        reverse("admin:campaigns_campaign_add"), {"name": "Spring poster", "channel": "poster", "code": ""}
    )

    assert response.status_code == 302
    campaign = Campaign.objects.get()
    assert campaign.code == f"c{campaign.pk}" and campaign.created_by == marketer


def test_what_marketing_adds_is_named_in_the_message_and_the_history(client, marketer, sandbox):
    added = client.post(
        reverse("admin:campaigns_campaign_add"),
        {"name": "Autumn poster", "channel": "poster", "code": "poster-autumn"},
        follow=True,
    )
    campaign = Campaign.objects.get()
    drawn = client.post(reverse("admin:campaigns_miniprogramcode_add"), _code_form(campaign), follow=True)

    assert [strip_tags(message) for message in added.context["messages"]] == [
        "The campaign “Autumn poster (poster-autumn)” was added successfully."
    ]
    assert [strip_tags(message) for message in drawn.context["messages"]] == [
        "The Mini Program code “pages/index/index?scene=c=poster-autumn” was added successfully."
    ]
    assert list(LogEntry.objects.order_by("pk").values_list("object_repr", flat=True)) == [
        "Autumn poster (poster-autumn)",
        "pages/index/index?scene=c=poster-autumn",
    ]


def test_a_code_wechat_would_refuse_is_a_form_error(client, marketer):
    response = client.post(
        reverse("admin:campaigns_campaign_add"), {"name": "Poster", "channel": "poster", "code": "春天"}
    )

    assert response.status_code == 200
    assert "WeChat refuses other characters" in response.context["adminform"].form.errors["code"][0]
    assert not Campaign.objects.exists()


def test_a_scene_over_32_characters_is_a_form_error_and_nothing_is_asked_of_wechat(client, marketer, sandbox):
    campaign = campaign_create(name="Long", channel=Campaign.Channel.POSTER, code="x" * 31)  # scene "c=" + 31

    response = client.post(reverse("admin:campaigns_miniprogramcode_add"), _code_form(campaign))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "WeChat takes at most 32" in errors["campaign"][0]
    assert not MiniProgramCode.objects.exists()
    assert sandbox.received(CODE_PATH) == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"page": "/pages/index/index"}, "page"), ({"width": 1500}, "width"), ({"env_version": "beta"}, "env_version")],
)
def test_page_width_and_version_are_form_errors(client, marketer, sandbox, overrides, field):
    campaign = campaign_create(name="Poster", channel=Campaign.Channel.POSTER)

    response = client.post(reverse("admin:campaigns_miniprogramcode_add"), _code_form(campaign, **overrides))

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert sandbox.received(CODE_PATH) == []


def test_a_product_code_is_asked_for_shown_and_downloaded_as_png(client, marketer, sandbox):
    campaign = campaign_create(name="Poster", channel=Campaign.Channel.POSTER, code="poster")
    product = ProductFactory()

    response = client.post(
        reverse("admin:campaigns_miniprogramcode_add"), _code_form(campaign, product=product.pk, page="", width=640)
    )
    assert response.status_code == 302
    code = MiniProgramCode.objects.get()
    assert (code.page, code.scene, code.status) == ("pages/product/detail", f"c=poster&id={product.pk}", "queued")
    mini_program_code_generate(code_id=code.pk)  # the worker's part (tests/campaigns/test_code_services.py)

    page = client.get(reverse("admin:campaigns_miniprogramcode_change", args=[code.pk])).content.decode()
    download = client.get(reverse("admin:campaigns_miniprogramcode_download", args=[code.pk]))

    assert "Download PNG (640 px)" in page
    assert download["Content-Type"] == "image/png"
    assert download["Content-Disposition"].startswith("attachment;")
    assert Image.open(io.BytesIO(b"".join(download.streaming_content))).size == (640, 640)


def test_make_again_asks_wechat_again_only_for_the_codes_chosen(client, marketer, sandbox):
    campaign = campaign_create(name="Poster", channel=Campaign.Channel.POSTER)
    client.post(reverse("admin:campaigns_miniprogramcode_add"), _code_form(campaign))
    code = MiniProgramCode.objects.get()
    mini_program_code_generate(code_id=code.pk)
    assert len(sandbox.received(CODE_PATH)) == 1

    client.post(
        reverse("admin:campaigns_miniprogramcode_changelist"),
        {"action": "make_again", "_selected_action": [code.pk]},
    )
    code.refresh_from_db()
    assert code.status == MiniProgramCode.Status.QUEUED
    mini_program_code_generate(code_id=code.pk)

    code.refresh_from_db()
    assert code.status == MiniProgramCode.Status.READY
    assert len(sandbox.received(CODE_PATH)) == 2
    assert [event.to_status for event in code.events.all()] == ["queued", "ready", "queued", "ready"]


def test_a_campaigns_page_links_to_its_codes_and_to_a_new_code_with_it_chosen(client, marketer):
    campaign = campaign_create(name="Poster", channel=Campaign.Channel.POSTER)

    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()
    add_page = client.get(reverse("admin:campaigns_miniprogramcode_add") + f"?campaign={campaign.pk}")

    assert "0 made" in page
    assert f"/admin/campaigns/miniprogramcode/add/?campaign={campaign.pk}" in page
    assert add_page.context["adminform"].form.initial["campaign"] == str(campaign.pk)
