"""Factories for every app's models, in one place."""

import factory
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from articles.models import Article, FollowerTag, Push, PushMode
from catalog.models import Category, Product, ProductImage, Sku
from catalog.services import product_display_prices_refresh, product_image_thumbnails_make
from customers.models import Customer
from orders.models import Address, CartItem, Payment, Refund
from wechat.models import Merchant, MiniProgram, OfficialAccount


class CategoryFactory(factory.django.DjangoModelFactory):
    """A root category, or a child of `parent`: tree nodes are placed by treebeard, not saved directly."""

    class Meta:
        model = Category

    name = factory.Sequence(lambda number: f"Category {number}")
    slug = factory.Sequence(lambda number: f"category-{number}")

    @classmethod
    def _create(cls, model_class, *args, parent=None, **kwargs):
        if parent is None:
            return model_class.objects.add_root(create_kwargs=kwargs)
        return model_class.objects.add_child(parent, create_kwargs=kwargs)


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    category = factory.SubFactory(CategoryFactory)
    title = factory.Sequence(lambda number: f"Product {number}")


class SkuFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sku
        skip_postgeneration_save = True

    product = factory.SubFactory(ProductFactory)
    code = factory.Sequence(lambda number: f"SKU-{number:05d}")
    price_fen = 3990
    stock = 10

    @factory.post_generation
    def display_price(sku, create, extracted, **kwargs):
        # As every service that changes SKUs does.
        if create:
            product_display_prices_refresh(product_ids=[sku.product_id])


class ProductImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductImage
        skip_postgeneration_save = True

    product = factory.SubFactory(ProductFactory)
    image = factory.django.ImageField(width=64, height=64, color="steelblue", format="JPEG", filename="product.jpg")

    @factory.post_generation
    def thumbnails(product_image, create, extracted, **kwargs):
        # As the admin does on upload; thumbnails=False leaves them out, like an image from before thumbnails.
        if create and extracted is not False:
            product_image_thumbnails_make(product_image=product_image)


class ArticleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Article

    title = factory.Sequence(lambda number: f"Article {number}")
    author = "Editor"
    content = "<p>Hello from the Official Account.</p>"
    cover = factory.django.ImageField(width=90, height=38, color="seagreen", format="JPEG", filename="cover.jpg")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    openid = factory.Sequence(lambda number: f"o-customer-{number:06d}")


class AddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Address

    customer = factory.SubFactory(CustomerFactory)
    recipient = "张三"
    phone = factory.Sequence(lambda number: f"138{number:08d}")
    province = "广东省"
    city = "深圳市"
    district = "南山区"
    detail = factory.Sequence(lambda number: f"科技园路 {number} 号")
    is_default = False


class CartItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CartItem

    customer = factory.SubFactory(CustomerFactory)
    sku = factory.SubFactory(SkuFactory)
    quantity = 1


class PaymentFactory(factory.django.DjangoModelFactory):
    """A payment attempt of `order`; pass status="paid", transaction_id and paid_at for one WeChat confirmed."""

    class Meta:
        model = Payment

    out_trade_no = factory.LazyAttribute(lambda payment: payment.order.order_no)
    amount_fen = factory.LazyAttribute(lambda payment: payment.order.total_fen)
    sign_type = "MD5"


class OfficialAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OfficialAccount

    name = factory.Sequence(lambda number: f"Tea House {number}")
    appid = factory.Sequence(lambda number: f"wx{number:016x}")
    app_secret = "factory-app-secret"
    account_type = OfficialAccount.AccountType.SERVICE
    callback_token = "factoryToken42"
    encoding_aes_key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    message_mode = OfficialAccount.MessageMode.SAFE


def rsa_key_pems() -> tuple[str, str]:
    """A fresh RSA key pair as PEM text (private PKCS#8, public SubjectPublicKeyInfo), as WeChat Pay hands them out."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


class MerchantFactory(factory.django.DjangoModelFactory):
    """A merchant with every secret set (a v2 API key and the v3 keys), each value distinct per merchant."""

    class Meta:
        model = Merchant

    class Params:
        key_pems = factory.LazyFunction(rsa_key_pems)

    name = factory.Sequence(lambda number: f"Tea shop {number}")
    mch_id = factory.Sequence(lambda number: f"{1900100000 + number}")
    api_version = Merchant.ApiVersion.V3
    api_key = factory.Sequence(lambda number: f"factoryApiKeyV2{number:017d}")
    apiv3_key = factory.Sequence(lambda number: f"factoryApiV3Key{number:017d}")
    private_key = factory.LazyAttribute(lambda merchant: merchant.key_pems[0])
    certificate_serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    wechatpay_public_key = factory.LazyAttribute(lambda merchant: merchant.key_pems[1])
    wechatpay_public_key_id = factory.Sequence(lambda number: f"PUB_KEY_ID_{number:028d}")


class MiniProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MiniProgram

    name = factory.Sequence(lambda number: f"Tea app {number}")
    appid = factory.Sequence(lambda number: f"wx{0xA000 + number:016x}")
    app_secret = factory.Sequence(lambda number: f"factory-mini-program-secret-{number}")
    merchant = factory.SubFactory(MerchantFactory)


class FollowerTagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowerTag

    account = factory.SubFactory(OfficialAccountFactory)
    tag_id = factory.Sequence(lambda number: 100 + number)
    name = factory.Sequence(lambda number: f"Tag {number}")
    follower_count = 10


class PushFactory(factory.django.DjangoModelFactory):
    """A push as rows, for reads and quota counts; building one as staff do goes through push_create."""

    class Meta:
        model = Push

    account = factory.SubFactory(OfficialAccountFactory)
    title = factory.Sequence(lambda number: f"Push {number}")
    mode = PushMode.MASS_SEND


class RefundFactory(factory.django.DjangoModelFactory):
    """A refund of `payment`, as requested; pass status and refund_id for one WeChat took."""

    class Meta:
        model = Refund

    out_refund_no = factory.Sequence(lambda number: f"R{number:012d}")
    amount_fen = 100
    reason = "customer asked"
