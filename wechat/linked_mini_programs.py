"""Which Mini Program our articles may link to: the one linked to our Official Accounts.

WeChat keeps a Mini Program's cards and links (`mp-miniprogram`, `a data-miniprogram-appid`) in an
article only for a Mini Program linked to the account (公众号 小程序管理 → 关联小程序); others are dropped
when the draft is added. Articles are written before the account they go to is chosen, so the editor
offers the Mini Program linked to the accounts, and the cleaner keeps the cards of any linked one.
"""

from wechat.models import MiniProgram


def article_mini_program() -> MiniProgram | None:
    """The Mini Program the article editor links to (the first account's, by name), None when none is linked."""
    return (
        MiniProgram.objects.filter(official_accounts__isnull=False)
        .order_by("official_accounts__name", "official_accounts__pk")
        .first()
    )


def article_mini_program_appids() -> frozenset[str]:
    """The appids whose cards and links articles keep: every Mini Program linked to one of our accounts."""
    return frozenset(MiniProgram.objects.filter(official_accounts__isnull=False).values_list("appid", flat=True))
