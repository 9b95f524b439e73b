"""Campaigns: the ones staff start, and the automatic one of each article and push."""

import pytest
from django.core.exceptions import ValidationError

from articles.services.articles import article_save
from articles.services.pushes import push_create
from campaigns.exceptions import CampaignInvalid
from campaigns.models import Campaign
from campaigns.services import campaign_create
from tests.factories import ArticleFactory, OfficialAccountFactory

pytestmark = pytest.mark.django_db


def test_a_staff_campaign_without_a_code_gets_c_and_its_number():
    campaign = campaign_create(name="Spring poster", channel=Campaign.Channel.POSTER)

    assert campaign.code == f"c{campaign.pk}"
    assert Campaign.objects.get(code=campaign.code).name == "Spring poster"


def test_a_staff_campaign_keeps_the_code_it_is_given():
    campaign = campaign_create(name="Livestream", channel=Campaign.Channel.OTHER, code="live-0412")

    assert campaign.code == "live-0412"


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("x" * 33, "at most 32 characters"),
        ("春季", "WeChat refuses other characters"),
        ("50%off", "WeChat refuses other characters"),
        ("a12", "given to pushes, articles and campaigns automatically"),
    ],
)
def test_codes_wechat_would_refuse_or_we_give_out_are_refused_with_the_reason(code, words):
    with pytest.raises(CampaignInvalid) as refused:
        campaign_create(name="Poster", channel=Campaign.Channel.POSTER, code=code)

    assert words in refused.value.fields["code"][0]
    assert not Campaign.objects.exists()


def test_the_model_refuses_a_code_ending_in_a_line_break_that_the_service_would_have_trimmed():
    campaign = Campaign(name="Poster", channel=Campaign.Channel.POSTER, code="poster\n")

    with pytest.raises(ValidationError) as refused:
        campaign.full_clean()

    assert "WeChat refuses other characters" in str(refused.value.message_dict["code"])


def test_a_code_in_use_is_refused():
    campaign_create(name="Poster", channel=Campaign.Channel.POSTER, code="poster")

    with pytest.raises(CampaignInvalid) as refused:
        campaign_create(name="Another", channel=Campaign.Channel.POSTER, code="poster")

    assert "poster" in refused.value.fields["code"][0]


def test_an_article_gets_its_campaign_when_first_saved_and_keeps_it():
    article = ArticleFactory.build()

    article_save(article=article)
    first = article.campaign
    article.title = "Renamed"
    article_save(article=article)

    assert first.code == f"a{article.pk}" and first.channel == Campaign.Channel.ARTICLE
    article.refresh_from_db()
    assert article.campaign_id == first.pk
    assert article.campaign.name == "Renamed"


def test_a_push_gets_its_campaign_when_created():
    account = OfficialAccountFactory()
    article = ArticleFactory()

    push = push_create(account=account, title="Autumn push", mode="mass_send", audience="all", article_ids=[article.pk])

    assert push.campaign.code == f"p{push.pk}"
    assert push.campaign.channel == Campaign.Channel.PUSH
    assert push.campaign.name == "Autumn push"
