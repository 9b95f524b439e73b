import io
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image, ImageDraw, ImageFont

from articles.models import Article
from catalog.models import Category, Product, Sku
from catalog.services import (
    product_description_clean,
    product_display_prices_refresh,
    product_image_create,
    product_image_thumbnails_make,
)
from demo import data
from wechat.models import Merchant, MiniProgram, OfficialAccount
from wechat_sandbox.server import DEVELOPMENT_CALLBACK_TOKEN, DEVELOPMENT_ENCODING_AES_KEY

DEMO_USERNAME = "demo"
DEMO_STAFF_GROUPS = ["Marketing", "Operations"]
PRODUCT_IMAGE_SIZE = (800, 800)
ARTICLE_COVER_SIZE = (900, 383)  # WeChat's 2.35:1 cover ratio


@dataclass(frozen=True)
class DemoDataSummary:
    username: str
    # None: the demo admin kept the password it had, so staff logged in stay logged in.
    password: str | None
    category_count: int
    product_count: int
    sku_count: int
    article_count: int


@transaction.atomic
def demo_data_load(*, admin_password: str | None) -> DemoDataSummary:
    """Write the demo data, matching existing rows by natural key so a second run changes values, not row counts.

    Images are generated only where missing, so reruns leave no orphan files. The demo admin gets
    `admin_password` when given; without one, a new admin gets a random password and an existing
    one keeps its own (a new password would log every staff session out at each `make demo`).
    """
    admin, admin_password = _demo_admin_save(password=admin_password)
    categories: dict[str, Category] = {}
    for demo_category in data.CATEGORIES:
        categories[demo_category.slug] = _demo_category_save(
            demo_category=demo_category, parent=categories.get(demo_category.parent_slug)
        )
    for demo_product in data.PRODUCTS:
        _demo_product_save(demo_product=demo_product, category=categories[demo_product.category_slug])
    for demo_article in data.ARTICLES:
        _demo_article_save(demo_article=demo_article, created_by=admin)
    account = _demo_official_account_save()
    # Linked, as in WeChat's console, so the article editor can insert the shop's cards and links.
    account.mini_program = _demo_mini_program_save()
    account.save(update_fields=["mini_program"])
    return DemoDataSummary(
        username=admin.username,
        password=admin_password,
        category_count=len(data.CATEGORIES),
        product_count=len(data.PRODUCTS),
        sku_count=sum(len(demo_product.skus) for demo_product in data.PRODUCTS),
        article_count=len(data.ARTICLES),
    )


def _demo_mini_program_save() -> MiniProgram:
    """The settings' Mini Program and merchant, as the sandbox registers them, under the demo shop's names.

    Each run writes the settings' credentials again, so the demo follows the settings it runs with:
    `make demo` pays through APIv3 (WECHAT_PAY_API_VERSION=v3, what a new merchant has; its keys are
    the sandbox's, applied once it has issued them), `make demo WECHAT_PAY_API_VERSION=v2` through v2.
    The v2 API key is kept either way, so a merchant can be moved between versions in the admin.
    """
    merchant, _ = Merchant.objects.update_or_create(
        mch_id=settings.WECHAT_PAY_MCH_ID,
        defaults={
            "name": data.MERCHANT_NAME,
            "api_version": settings.WECHAT_PAY_API_VERSION,
            "api_key": settings.WECHAT_PAY_API_KEY,
            "sign_type": settings.WECHAT_PAY_SIGN_TYPE,
        },
    )
    mini_program, _ = MiniProgram.objects.update_or_create(
        appid=settings.WECHAT_MINI_PROGRAM_APPID,
        defaults={
            "name": data.MINI_PROGRAM_NAME,
            "app_secret": settings.WECHAT_MINI_PROGRAM_SECRET,
            "merchant": merchant,
        },
    )
    return mini_program


def _demo_official_account_save() -> OfficialAccount:
    """The settings' Official Account, as the sandbox registers it: `make demo` runs the sandbox pushing to us."""
    account, _ = OfficialAccount.objects.update_or_create(
        appid=settings.WECHAT_OFFICIAL_ACCOUNT_APPID,
        defaults={
            "name": data.OFFICIAL_ACCOUNT_NAME,
            "app_secret": settings.WECHAT_OFFICIAL_ACCOUNT_SECRET,
            "account_type": OfficialAccount.AccountType.SUBSCRIPTION,  # the sandbox's default, and stricter quota
            "callback_token": DEVELOPMENT_CALLBACK_TOKEN,
            "encoding_aes_key": DEVELOPMENT_ENCODING_AES_KEY,
            "message_mode": OfficialAccount.MessageMode.SAFE,
        },
    )
    return account


def _demo_admin_save(*, password: str | None) -> tuple:
    """The demo admin and the password it was given now (None: it kept its own)."""
    admin, created = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
    admin.is_staff = True
    admin.is_superuser = True
    if password is None and (created or not admin.password or not admin.has_usable_password()):
        password = secrets.token_urlsafe(12)
    if password is not None:
        admin.set_password(password)
    admin.save()
    # Group.objects.get, not get_or_create: the groups and their permissions come
    # from articles' staff groups migration, and an empty stand-in would hide its absence.
    admin.groups.add(*[Group.objects.get(name=group_name) for group_name in DEMO_STAFF_GROUPS])
    return admin, password


def _demo_category_save(*, demo_category: data.DemoCategory, parent: Category | None) -> Category:
    values = {"name": demo_category.name, "position": demo_category.position, "is_active": True}
    category = Category.objects.filter(slug=demo_category.slug).first()
    if category is None:
        create_kwargs = {"slug": demo_category.slug, **values}
        if parent is None:
            return Category.objects.add_root(create_kwargs=create_kwargs)
        return Category.objects.add_child(parent, create_kwargs=create_kwargs)
    for name, value in values.items():
        setattr(category, name, value)
    category.save(update_fields=list(values))
    return category


def _demo_product_save(*, demo_product: data.DemoProduct, category: Category) -> None:
    product, _ = Product.objects.update_or_create(
        title=demo_product.title,
        defaults={
            "category": category,
            "subtitle": demo_product.subtitle,
            "description": product_description_clean(html=demo_product.description),
            "is_active": True,
        },
    )
    for demo_sku in demo_product.skus:
        Sku.objects.update_or_create(
            code=demo_sku.code,
            defaults={
                "product": product,
                "specs": demo_sku.specs,
                "price_fen": demo_sku.price_fen,
                "list_price_fen": demo_sku.list_price_fen,
                "stock": demo_sku.stock,
                "is_active": True,
            },
        )
    product_display_prices_refresh(product_ids=[product.pk])
    if not product.images.exists():
        jpeg = _placeholder_jpeg(
            label=demo_product.image_label, colour=demo_product.image_colour, size=PRODUCT_IMAGE_SIZE
        )
        product_image_create(product=product, image=ContentFile(jpeg, name=f"{demo_product.key}.jpg"))
    for product_image in product.images.filter(list_thumbnail=""):
        # Demo databases made before thumbnails existed get theirs on the next load.
        product_image_thumbnails_make(product_image=product_image)


def _demo_article_save(*, demo_article: data.DemoArticle, created_by) -> None:
    article = Article.objects.filter(title=demo_article.title).first() or Article(title=demo_article.title)
    article.author = demo_article.author
    article.digest = demo_article.digest
    article.content = demo_article.content
    article.created_by = article.created_by or created_by
    if not article.cover:
        jpeg = _placeholder_jpeg(
            label=demo_article.cover_label, colour=demo_article.cover_colour, size=ARTICLE_COVER_SIZE
        )
        article.cover.save(f"{demo_article.key}.jpg", ContentFile(jpeg), save=False)
    # Demo articles must pass the same WeChat limits staff face in the admin.
    article.full_clean()
    article.save()


def _placeholder_jpeg(*, label: str, colour: str, size: tuple[int, int]) -> bytes:
    image = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=size[1] // 8)
    draw.text((size[0] / 2, size[1] / 2), label, fill="white", font=font, anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()
