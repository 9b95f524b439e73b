"""Mini Programs and WeChat Pay merchants as rows: the settings' default, encrypted secrets, the admin."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.contrib.auth.models import Group
from django.db import connection

from wechat.merchants import (
    merchants_for_wechatpay_serial,
    mini_program_default,
    mini_program_for_appid,
    payment_parties,
)
from wechat.models import Merchant, MiniProgram
from wechat.pay.gateway import merchant_config, payment_gateway_for_message
from wechat.pay.interface import InvalidPayMessage

pytestmark = pytest.mark.django_db
APIV3_KEY = "apiv3key0apiv3key0apiv3key0abcde"
SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
PUBLIC_KEY_ID = "PUB_KEY_ID_0114232134912410000000000001"


def rsa_pems() -> tuple[str, str]:
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


# --- the settings' shop ---------------------------------------------------------------------------


def test_with_no_rows_the_settings_make_the_default_mini_program_and_its_merchant(settings):
    default = mini_program_default()

    assert (default.appid, default.app_secret) == (
        settings.WECHAT_MINI_PROGRAM_APPID,
        settings.WECHAT_MINI_PROGRAM_SECRET,
    )
    merchant = default.merchant
    assert (merchant.mch_id, merchant.api_version, merchant.api_key, merchant.sign_type) == (
        settings.WECHAT_PAY_MCH_ID,
        "v2",
        settings.WECHAT_PAY_API_KEY,
        settings.WECHAT_PAY_SIGN_TYPE,
    )
    assert mini_program_default() == default  # made once
    assert (MiniProgram.objects.count(), Merchant.objects.count()) == (1, 1)


def test_the_default_rows_config_is_the_settings_config_until_staff_change_it(settings):
    default = mini_program_default()
    assert merchant_config(default) == merchant_config()  # the settings' merchant, as before

    Merchant.objects.filter(pk=default.merchant_id).update(sign_type="HMAC-SHA256")
    changed = merchant_config(mini_program_for_appid(settings.WECHAT_MINI_PROGRAM_APPID))

    assert changed.sign_type == "HMAC-SHA256"
    # Certificate files the row leaves blank are the settings' (the sandbox rewrites them each start).
    assert (changed.cert_path, changed.key_path) == (settings.WECHAT_PAY_CERT_PATH, settings.WECHAT_PAY_KEY_PATH)


def test_secrets_are_encrypted_at_rest():
    private_pem, public_pem = rsa_pems()
    merchant = Merchant.objects.create(
        name="v3 shop",
        mch_id="1900000444",
        api_version="v3",
        apiv3_key=APIV3_KEY,
        private_key=private_pem,
        certificate_serial=SERIAL,
        wechatpay_public_key=public_pem,
        wechatpay_public_key_id=PUBLIC_KEY_ID,
        api_key="v2key0v2key0v2key0v2key0v2key012",
    )
    MiniProgram.objects.create(name="App", appid="wx00000000000000d4", app_secret="mp-secret-1", merchant=merchant)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT apiv3_key, private_key, wechatpay_public_key, api_key FROM wechat_merchant WHERE id = %s",
            [merchant.pk],
        )
        stored = cursor.fetchone()
        cursor.execute("SELECT app_secret FROM wechat_miniprogram WHERE appid = 'wx00000000000000d4'")
        [stored_app_secret] = cursor.fetchone()

    for plain, ciphertext in zip([APIV3_KEY, private_pem, public_pem, "v2key0"], stored, strict=True):
        assert plain[:40] not in ciphertext
    assert "mp-secret-1" not in stored_app_secret
    assert Merchant.objects.get(pk=merchant.pk).private_key == private_pem


def test_a_message_is_verified_only_for_a_mini_program_and_merchant_of_ours():
    default = mini_program_default()
    other = Merchant.objects.create(name="Other", mch_id="1900000555", api_version="v2", api_key="o" * 32)
    second = MiniProgram.objects.create(name="Second", appid="wx00000000000000e5", app_secret="s", merchant=other)

    assert payment_parties(appid=second.appid, mch_id="1900000555") == (second, other)
    assert payment_gateway_for_message(appid=second.appid, mch_id="1900000555").config.api_key == "o" * 32
    for appid, mch_id in [("wx00000000000000ff", "1900000555"), (second.appid, "1900000999"), ("", "")]:
        with pytest.raises(InvalidPayMessage):
            payment_gateway_for_message(appid=appid, mch_id=mch_id)
    with pytest.raises(InvalidPayMessage):  # refused before PostgreSQL sees a NUL
        payment_gateway_for_message(appid="wx\x00", mch_id="1")
    assert payment_parties(appid=default.appid, mch_id="1900000555") == (default, other)


def test_a_process_keeps_the_rows_that_verify_messages_until_one_is_saved_or_deleted_here(django_assert_num_queries):
    other = Merchant.objects.create(name="Other", mch_id="1900000555", api_version="v2", api_key="o" * 32)
    second = MiniProgram.objects.create(name="Second", appid="wx00000000000000e5", app_secret="s", merchant=other)
    payment_gateway_for_message(appid=second.appid, mch_id=other.mch_id)

    with django_assert_num_queries(0):
        kept = payment_gateway_for_message(appid=second.appid, mch_id=other.mch_id)
    # Changed without a save in this process (another process, or SQL): the old key, for a while.
    Merchant.objects.filter(pk=other.pk).update(api_key="p" * 32)
    assert payment_gateway_for_message(appid=second.appid, mch_id=other.mch_id).config.api_key == "o" * 32
    # Staff change it in the admin, which saves here: the new key at once.
    other.api_key = "q" * 32
    other.save()
    assert payment_gateway_for_message(appid=second.appid, mch_id=other.mch_id).config.api_key == "q" * 32
    second.delete()
    with pytest.raises(InvalidPayMessage):
        payment_gateway_for_message(appid=second.appid, mch_id=other.mch_id)
    assert kept.config.api_key == "o" * 32


def test_payments_made_before_a_mini_program_moved_to_another_merchant_stay_with_the_first():
    default = mini_program_default()
    first_merchant = default.merchant
    newer = Merchant.objects.create(name="Newer", mch_id="1900000556", api_version="v2", api_key="n" * 32)
    MiniProgram.objects.filter(pk=default.pk).update(merchant=newer)

    gateway = payment_gateway_for_message(appid=default.appid, mch_id=first_merchant.mch_id)

    assert (gateway.config.mch_id, gateway.config.api_key) == (first_merchant.mch_id, first_merchant.api_key)


def test_a_v2_message_is_verified_by_v2_whatever_the_merchant_uses_now(settings):
    merchant = mini_program_default().merchant
    merchant.api_version = Merchant.ApiVersion.V3
    merchant.save(update_fields=["api_version"])

    gateway = payment_gateway_for_message(
        appid=settings.WECHAT_MINI_PROGRAM_APPID, mch_id=merchant.mch_id, version="v2"
    )

    assert gateway.config.version == "v2" and gateway.config.api_key == settings.WECHAT_PAY_API_KEY


# --- the admin ----------------------------------------------------------------------------------------


@pytest.fixture
def superuser_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="pw-for-tests-only"))
    return client


def v3_form(private_pem: str, public_pem: str, **fields) -> dict:
    return {
        "name": "New shop",
        "mch_id": "1900000666",
        "api_version": "v3",
        "api_key": "",
        "sign_type": "MD5",
        "certificate_path": "",
        "certificate_key_path": "",
        "apiv3_key": APIV3_KEY,
        "private_key": private_pem,
        "certificate_serial": SERIAL,
        "verification": "public_key",
        "wechatpay_public_key": public_pem,
        "wechatpay_public_key_id": PUBLIC_KEY_ID,
        **fields,
    }


def test_staff_add_a_v3_merchant_and_never_see_its_keys_again(superuser_client):
    private_pem, public_pem = rsa_pems()

    added = superuser_client.post("/admin/wechat/merchant/add/", v3_form(private_pem, public_pem))

    assert added.status_code == 302, added.context["adminform"].form.errors
    merchant = Merchant.objects.get(mch_id="1900000666")
    assert (merchant.apiv3_key, merchant.private_key.strip()) == (APIV3_KEY, private_pem.strip())
    page = superuser_client.get(f"/admin/wechat/merchant/{merchant.pk}/change/").content.decode()
    assert APIV3_KEY not in page
    assert private_pem.splitlines()[1] not in page
    assert public_pem.splitlines()[1] not in page
    assert SERIAL in page  # not a secret: the serial names the certificate


def test_blank_keys_keep_the_stored_ones_and_new_ones_replace_them(superuser_client):
    private_pem, public_pem = rsa_pems()
    superuser_client.post("/admin/wechat/merchant/add/", v3_form(private_pem, public_pem))
    merchant = Merchant.objects.get(mch_id="1900000666")
    blanks = {"apiv3_key": "", "private_key": "", "wechatpay_public_key": ""}

    kept = superuser_client.post(
        f"/admin/wechat/merchant/{merchant.pk}/change/", v3_form("", "", name="Renamed", **blanks)
    )

    assert kept.status_code == 302
    merchant.refresh_from_db()
    assert (merchant.name, merchant.apiv3_key, merchant.private_key.strip()) == (
        "Renamed",
        APIV3_KEY,
        private_pem.strip(),
    )
    new_private, _ = rsa_pems()
    superuser_client.post(
        f"/admin/wechat/merchant/{merchant.pk}/change/", v3_form(new_private, "", wechatpay_public_key="")
    )
    merchant.refresh_from_db()
    assert merchant.private_key.strip() == new_private.strip()
    assert merchant.wechatpay_public_key.strip() == public_pem.strip()


@pytest.mark.parametrize(
    ("changes", "field_name"),
    [
        ({"apiv3_key": ""}, "apiv3_key"),
        ({"private_key": ""}, "private_key"),
        ({"certificate_serial": ""}, "certificate_serial"),
        ({"wechatpay_public_key": ""}, "wechatpay_public_key"),
        ({"wechatpay_public_key_id": "12345"}, "wechatpay_public_key_id"),
        ({"private_key": "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"}, "private_key"),
        ({"wechatpay_public_key": "hello"}, "wechatpay_public_key"),
        ({"apiv3_key": "too-short"}, "apiv3_key"),
        ({"mch_id": "19000abc"}, "mch_id"),
        ({"api_version": "v2"}, "api_key"),  # a v2 merchant signs with its API key
    ],
)
def test_a_merchant_missing_or_with_bad_credentials_is_a_form_error(superuser_client, changes, field_name):
    private_pem, public_pem = rsa_pems()

    answer = superuser_client.post("/admin/wechat/merchant/add/", v3_form(private_pem, public_pem, **changes))

    assert answer.status_code == 200
    assert field_name in answer.context["adminform"].form.errors
    assert not Merchant.objects.exists()


def test_a_merchant_key_must_be_rsa(superuser_client):
    ec_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _, public_pem = rsa_pems()

    answer = superuser_client.post("/admin/wechat/merchant/add/", v3_form(ec_key.decode(), public_pem))

    assert "private_key" in answer.context["adminform"].form.errors


def test_a_platform_certificate_merchant_needs_no_public_key(superuser_client):
    private_pem, _ = rsa_pems()
    form = v3_form(private_pem, "", verification="platform_certificate", wechatpay_public_key_id="")

    assert superuser_client.post("/admin/wechat/merchant/add/", form).status_code == 302
    assert Merchant.objects.get(mch_id="1900000666").verification == "platform_certificate"


def test_staff_add_a_mini_program_whose_secret_is_never_shown(superuser_client):
    merchant = mini_program_default().merchant
    form = {"name": "Tea shop", "appid": "wx00000000000000f6", "app_secret": "tea-shop-secret", "merchant": merchant.pk}

    assert superuser_client.post("/admin/wechat/miniprogram/add/", form).status_code == 302
    mini_program = MiniProgram.objects.get(appid="wx00000000000000f6")
    page = superuser_client.get(f"/admin/wechat/miniprogram/{mini_program.pk}/change/").content.decode()

    assert mini_program.app_secret == "tea-shop-secret"
    assert "tea-shop-secret" not in page
    refused = superuser_client.post(
        "/admin/wechat/miniprogram/add/", {**form, "appid": "wx00000000000000f7", "app_secret": ""}
    )
    assert "app_secret" in refused.context["adminform"].form.errors


def test_operations_read_merchants_and_mini_programs_without_their_secrets(client, django_user_model):
    private_pem, public_pem = rsa_pems()
    merchant = Merchant.objects.create(
        name="v3 shop",
        mch_id="1900000777",
        api_version="v3",
        apiv3_key=APIV3_KEY,
        private_key=private_pem,
        certificate_serial=SERIAL,
        wechatpay_public_key=public_pem,
        wechatpay_public_key_id=PUBLIC_KEY_ID,
    )
    mini_program = MiniProgram.objects.create(
        name="App", appid="wx00000000000000a8", app_secret="mp-secret-2", merchant=merchant
    )
    operator = django_user_model.objects.create_user("operator", password="pw-for-tests-only", is_staff=True)
    operator.groups.add(Group.objects.get(name="Operations"))
    client.force_login(operator)

    merchant_page = client.get(f"/admin/wechat/merchant/{merchant.pk}/change/")
    mini_program_page = client.get(f"/admin/wechat/miniprogram/{mini_program.pk}/change/")

    assert merchant_page.status_code == mini_program_page.status_code == 200
    text = merchant_page.content.decode() + mini_program_page.content.decode()
    assert "1900000777" in text and SERIAL in text
    for secret in (APIV3_KEY, private_pem.splitlines()[1], public_pem.splitlines()[1], "mp-secret-2"):
        assert secret not in text
    assert client.get("/admin/wechat/merchant/add/").status_code == 403


def test_a_v3_message_finds_its_merchant_by_the_key_that_signed_it():
    public_key_merchant = Merchant.objects.create(
        name="Public key", mch_id="1900000901", api_version="v3", wechatpay_public_key_id=PUBLIC_KEY_ID
    )
    platform = Merchant.objects.create(
        name="Platform", mch_id="1900000902", api_version="v3", verification="platform_certificate"
    )
    Merchant.objects.create(name="v2", mch_id="1900000903", api_version="v2", api_key="x" * 32)

    assert merchants_for_wechatpay_serial(PUBLIC_KEY_ID) == [public_key_merchant]
    # A platform certificate's serial: each platform-certificate merchant checks its own certificates.
    assert merchants_for_wechatpay_serial(SERIAL) == [platform]
    assert merchants_for_wechatpay_serial("PUB_KEY_ID_\x00") == []
