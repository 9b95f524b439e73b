"""Mini Program codes: checked before any call, drawn by the worker at the sandbox, refusals in staff's words."""

import io
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import zxingcpp
from django.conf import settings
from PIL import Image

from campaigns.code_services import (
    mini_program_code_generate,
    mini_program_code_regenerate,
    mini_program_code_request,
)
from campaigns.exceptions import MiniProgramCodeInvalid, MiniProgramCodeTransitionNotAllowed
from campaigns.models import Campaign, MiniProgramCode
from campaigns.services import campaign_create
from campaigns.tasks import MINI_PROGRAM_CODE_MAX_RETRIES, generate_mini_program_code
from tests.factories import ProductFactory
from wechat.merchants import mini_program_default

CODE_PATH = "/wxa/getwxacodeunlimit"


@pytest.fixture
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _decoded(png: bytes) -> dict:
    (barcode,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    return {name: values[0] for name, values in parse_qs(urlsplit(barcode.text).query).items()}


def _poster(code: str = "spring") -> Campaign:
    return campaign_create(name="Spring poster", channel=Campaign.Channel.POSTER, code=code)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "field", "words"),
    [
        ("x" * 31, "campaign", "WeChat takes at most 32"),  # "c=" + 31 characters is 33
        ("y" * 28, "campaign", "WeChat takes at most 32"),  # with a product's "&id=<n>"
    ],
)
def test_a_scene_over_32_characters_is_refused_before_any_call(sandbox, code, field, words):
    campaign = _poster(code)
    product = ProductFactory() if len(code) == 28 else None

    with pytest.raises(MiniProgramCodeInvalid) as refused:
        mini_program_code_request(
            campaign=campaign, mini_program=mini_program_default(), product=product, page="pages/index/index", width=430
        )

    assert words in refused.value.fields[field][0]
    assert not MiniProgramCode.objects.exists()
    assert sandbox.received(CODE_PATH) == []


@pytest.mark.django_db
def test_a_scene_with_a_character_wechat_refuses_is_refused_before_any_call(sandbox):
    # Codes staff type are checked when the campaign is made; one written around the service is caught here.
    campaign = _poster()
    Campaign.objects.filter(pk=campaign.pk).update(code="春")
    campaign.refresh_from_db()

    with pytest.raises(MiniProgramCodeInvalid) as refused:
        mini_program_code_request(
            campaign=campaign, mini_program=mini_program_default(), page="pages/index/index", width=430
        )

    assert "characters WeChat refuses" in refused.value.fields["campaign"][0]
    assert sandbox.received(CODE_PATH) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"page": "/pages/index/index"}, "page"),
        ({"page": "pages/index/index?x=1"}, "page"),
        ({"page": ""}, "page"),
        ({"page": "pages/index/index", "env_version": "beta"}, "env_version"),
        ({"page": "pages/index/index", "width": 1281}, "width"),
        ({"page": "pages/index/index", "width": 279}, "width"),
    ],
)
def test_page_version_and_width_are_checked_before_any_call(sandbox, arguments, field):
    with pytest.raises(MiniProgramCodeInvalid) as refused:
        mini_program_code_request(
            campaign=_poster(), mini_program=mini_program_default(), **{"width": 430, **arguments}
        )

    assert list(refused.value.fields) == [field]
    assert sandbox.received(CODE_PATH) == []


@pytest.mark.django_db(transaction=True)
def test_the_worker_draws_a_product_code_at_the_sandbox_and_keeps_the_png(celery_worker, sandbox):
    campaign = _poster()
    product = ProductFactory()

    code = mini_program_code_request(campaign=campaign, mini_program=mini_program_default(), product=product, width=500)

    deadline = time.monotonic() + 30
    while code.status == MiniProgramCode.Status.QUEUED and time.monotonic() < deadline:
        time.sleep(0.1)
        code.refresh_from_db()
    assert code.status == MiniProgramCode.Status.READY, code.error
    with code.image.open("rb") as stored:
        png = stored.read()
    assert Image.open(io.BytesIO(png)).size == (500, 500)
    assert _decoded(png) == {
        "appid": settings.WECHAT_MINI_PROGRAM_APPID,
        "page": "pages/product/detail",
        "scene": f"c=spring&id={product.pk}",
        "env_version": "release",
    }
    assert [event.to_status for event in code.events.all()] == ["queued", "ready"]


@pytest.mark.django_db
def test_a_page_wechat_does_not_have_fails_in_staff_words_and_is_made_again_only_when_asked(sandbox, media_in_tmp):
    code = mini_program_code_request(
        campaign=_poster(), mini_program=mini_program_default(), page="pages/live/room", width=430
    )

    mini_program_code_generate(code_id=code.pk)
    mini_program_code_generate(code_id=code.pk)  # a redelivered task: nothing asked again

    code.refresh_from_db()
    assert code.status == MiniProgramCode.Status.FAILED
    assert "no page “pages/live/room”" in code.error and "41030" in code.error
    assert len(sandbox.received(CODE_PATH)) == 1

    sandbox.set_mini_program_pages(["pages/index/index", "pages/live/room"])
    mini_program_code_regenerate(code_id=code.pk, staff_user=None)
    mini_program_code_generate(code_id=code.pk)

    code.refresh_from_db()
    assert code.status == MiniProgramCode.Status.READY and code.error == ""
    assert _decoded(code.image.read())["page"] == "pages/live/room"


@pytest.mark.django_db
def test_40097_is_recorded_in_staff_words(sandbox):
    code = mini_program_code_request(
        campaign=_poster(), mini_program=mini_program_default(), page="pages/index/index", width=430
    )
    sandbox.add_fault(CODE_PATH, errcode=40097)

    mini_program_code_generate(code_id=code.pk)

    code.refresh_from_db()
    assert code.status == MiniProgramCode.Status.FAILED
    assert code.error.startswith("WeChat refused the code's page, scene or version (40097)")


@pytest.mark.django_db
def test_45009_past_the_last_retry_fails_the_code_with_wechats_limit_in_staff_words(sandbox):
    code = mini_program_code_request(
        campaign=_poster(), mini_program=mini_program_default(), page="pages/index/index", width=430
    )
    sandbox.add_fault(CODE_PATH, errcode=45009)

    generate_mini_program_code.apply(args=[code.pk], retries=MINI_PROGRAM_CODE_MAX_RETRIES)

    code.refresh_from_db()
    assert code.status == MiniProgramCode.Status.FAILED
    assert "5,000 codes a minute" in code.error and "45009" in code.error


@pytest.mark.django_db
def test_a_code_being_made_cannot_be_asked_for_again(sandbox):
    code = mini_program_code_request(
        campaign=_poster(), mini_program=mini_program_default(), page="pages/index/index", width=430
    )

    with pytest.raises(MiniProgramCodeTransitionNotAllowed):
        mini_program_code_regenerate(code_id=code.pk, staff_user=None)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("from_status", "to_status", "actor"),
    [
        ("ready", "failed", "system"),
        ("failed", "ready", "system"),
        ("ready", "queued", "system"),  # only staff ask for a code again
        ("queued", "ready", "staff"),  # only the worker finishes one
    ],
)
def test_moves_the_table_does_not_allow_are_refused(from_status, to_status, actor):
    from django.db import transaction

    from campaigns.code_status import MINI_PROGRAM_CODE_STATUS

    code = MiniProgramCode.objects.create(
        campaign=_poster(), mini_program=mini_program_default(), page="pages/index/index", scene="c=spring"
    )
    MiniProgramCode.objects.filter(pk=code.pk).update(status=from_status)

    with pytest.raises(MiniProgramCodeTransitionNotAllowed), transaction.atomic():
        MINI_PROGRAM_CODE_STATUS.transition(pk=code.pk, to_status=to_status, actor=actor)

    code.refresh_from_db()
    assert code.status == from_status and not code.events.exists()
