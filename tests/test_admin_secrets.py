"""No staff page shows a secret: not to any role, not to a superuser, not in history, not on a form error.

Every model with secrets (Official Accounts, Mini Programs, WeChat Pay merchants) is opened on every admin
page it has (list, change or view, history, delete confirmation) by a user of each staff group and by a
superuser, after a superuser has changed it through the admin (so its history has entries), and none of
the stored secret values may appear in the HTML.
"""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from config.admin_secrets import SecretFieldsAdminMixin, WriteOnlySecretsForm, secret_fields_check
from tests.factories import MerchantFactory, MiniProgramFactory, OfficialAccountFactory
from wechat.models import Merchant, MiniProgram, OfficialAccount

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-only"


def pem_body_lines(pem: str) -> list[str]:
    """The base64 lines of a PEM block: any one of them on a page is part of the key shown."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def secret_values(obj) -> list[str]:
    values = []
    for name in ("app_secret", "callback_token", "encoding_aes_key", "api_key", "apiv3_key"):
        if getattr(obj, name, None):
            values.append(getattr(obj, name))
    for name in ("private_key", "wechatpay_public_key"):
        if getattr(obj, name, None):
            values += pem_body_lines(getattr(obj, name))
    return values


@pytest.fixture
def secret_bearing_rows():
    account = OfficialAccountFactory(
        app_secret="oaSecretNeverShown0001", callback_token="oaTokenNeverShown0001", encoding_aes_key="K" * 43
    )
    mini_program = MiniProgramFactory(app_secret="mpSecretNeverShown0001")
    return [account, mini_program, mini_program.merchant]


def admin_urls(obj) -> list[str]:
    base = f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/"
    return [
        base,
        f"{base}?q={obj.name}",
        f"{base}{obj.pk}/change/",
        f"{base}{obj.pk}/history/",
        f"{base}{obj.pk}/delete/",
    ]


def superuser(django_user_model):
    return django_user_model.objects.filter(username="root").first() or django_user_model.objects.create_superuser(
        "root", password=PASSWORD
    )


def staff_users(django_user_model) -> list:
    users = [superuser(django_user_model)]
    for group in Group.objects.order_by("name"):
        user = django_user_model.objects.create_user(f"staff-{group.name}", password=PASSWORD, is_staff=True)
        user.groups.add(group)
        users.append(user)
    return users


def history_written_by_a_superuser(client, django_user_model, rows) -> None:
    """Save each row through its change form once (blank secrets keep theirs), so history pages have entries."""
    client.force_login(superuser(django_user_model))
    for obj in rows:
        url = f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/change/"
        form = client.get(url).context["adminform"].form
        data = {name: form[name].value() or "" for name in form.fields}
        data = {name: ("" if value is None else value) for name, value in data.items()}
        data["name"] = f"{obj.name} renamed"
        answer = client.post(url, data)
        assert answer.status_code == 302, answer.context["adminform"].form.errors if answer.context else answer
        obj.refresh_from_db()
    client.logout()


def test_no_role_and_no_superuser_sees_a_secret_on_any_page(client, django_user_model, secret_bearing_rows):
    history_written_by_a_superuser(client, django_user_model, secret_bearing_rows)
    users = staff_users(django_user_model)
    assert {user.groups.first().name for user in users[1:]} >= {"Marketing", "Operations"}

    seen = []
    for user in users:
        client.force_login(user)
        for obj in secret_bearing_rows:
            stored = type(obj).objects.get(pk=obj.pk)
            secrets = secret_values(stored)
            assert len(secrets) >= 1
            for url in admin_urls(obj):
                answer = client.get(url)
                assert answer.status_code in (200, 403), (user, url, answer.status_code)
                page = answer.content.decode()
                if answer.status_code == 200:
                    seen.append((user.username, url))
                for secret in secrets:
                    assert secret not in page, (user.username, url)
        client.logout()

    # Each role reached the pages it may read: the check above looked at real pages, not refusals.
    assert ("staff-Marketing", f"/admin/wechat/officialaccount/{secret_bearing_rows[0].pk}/change/") in seen
    assert ("staff-Operations", f"/admin/wechat/merchant/{secret_bearing_rows[2].pk}/change/") in seen
    assert ("staff-Operations", f"/admin/wechat/miniprogram/{secret_bearing_rows[1].pk}/history/") in seen
    assert ("root", f"/admin/wechat/officialaccount/{secret_bearing_rows[0].pk}/delete/") in seen


def test_a_form_error_does_not_echo_the_secrets_just_typed(client, django_user_model):
    client.force_login(superuser(django_user_model))
    typed = {
        "name": "Tea House",
        "appid": "not-an-appid",
        "account_type": "service",
        "app_secret": "typedSecretNeverEchoed",
        "callback_token": "typedTokenNeverEchoed",
        "encoding_aes_key": "T" * 43,
        "message_mode": "safe",
    }

    answer = client.post("/admin/wechat/officialaccount/add/", typed)

    assert answer.status_code == 200
    assert "appid" in answer.context["adminform"].form.errors
    page = answer.content.decode()
    for name in ("app_secret", "callback_token", "encoding_aes_key"):
        assert typed[name] not in page


def test_a_merchant_form_error_does_not_echo_a_private_key(client, django_user_model):
    merchant = MerchantFactory()
    client.force_login(superuser(django_user_model))
    url = f"/admin/wechat/merchant/{merchant.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {name: ("" if form[name].value() is None else form[name].value()) for name in form.fields}
    other_private_key = MerchantFactory.build().private_key

    answer = client.post(url, {**data, "mch_id": "not digits", "private_key": other_private_key})

    assert answer.status_code == 200
    assert "mch_id" in answer.context["adminform"].form.errors
    for line in pem_body_lines(other_private_key):
        assert line not in answer.content.decode()


def test_the_callback_token_is_encrypted_at_rest(secret_bearing_rows):
    account = secret_bearing_rows[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT callback_token FROM wechat_officialaccount WHERE id = %s", [account.pk])
        (stored,) = cursor.fetchone()

    assert "oaTokenNeverShown0001" not in stored
    assert OfficialAccount.objects.get(pk=account.pk).callback_token == "oaTokenNeverShown0001"


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_tokens_stored_in_plain_text_and_back(staff_groups):
    try:
        _the_token_migrated_forwards_and_back()
    finally:
        call_command("migrate", verbosity=0)  # whatever happened, the schema every later test expects


def _the_token_migrated_forwards_and_back() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([("wechat", "0005_operations_view_merchants")])
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO wechat_officialaccount (name, appid, app_secret, account_type, callback_token, "
            "encoding_aes_key, message_mode, created_at, updated_at) VALUES ('Old', 'wx00000000000000c1', "
            "'x', 'service', 'plainToken42', 'y', 'safe', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        )

    call_command("migrate", "wechat", "0006_callback_token_encrypted_at_rest", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT callback_token FROM wechat_officialaccount WHERE appid = 'wx00000000000000c1'")
        (encrypted,) = cursor.fetchone()
    assert encrypted != "plainToken42"
    # The model as of that migration: later ones add columns (the linked Mini Program) not there yet.
    historical = MigrationExecutor(connection).loader.project_state(("wechat", "0006_callback_token_encrypted_at_rest"))
    account_then = historical.apps.get_model("wechat", "OfficialAccount")
    assert account_then.objects.get(appid="wx00000000000000c1").callback_token == "plainToken42"

    call_command("migrate", "wechat", "0005_operations_view_merchants", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT callback_token FROM wechat_officialaccount WHERE appid = 'wx00000000000000c1'")
        assert cursor.fetchone() == ("plainToken42",)


# --- the project-level check --------------------------------------------------------------------------


def test_every_registered_admin_keeps_secrets_write_only():
    assert secret_fields_check() == []


def test_the_check_refuses_an_admin_that_would_show_a_secret():
    site = admin.AdminSite(name="check-site")

    class ShowsTheSecret(admin.ModelAdmin):
        list_display = ["name", "app_secret"]

    class SearchesTheMerchantsKey(SecretFieldsAdminMixin, admin.ModelAdmin):
        class Form(WriteOnlySecretsForm):
            class Meta:
                model = MiniProgram
                fields = ["name", "app_secret"]

        form = Form
        search_fields = ["merchant__api_key"]

    class ReadOnlyWithoutSecrets(admin.ModelAdmin):
        fields = ["name", "mch_id"]

    site.register(OfficialAccount, ShowsTheSecret)
    site.register(MiniProgram, SearchesTheMerchantsKey)
    site.register(Merchant, ReadOnlyWithoutSecrets)

    problems = {
        (problem.id, problem.msg.split(" ")[0].rsplit(".", 1)[-1]) for problem in secret_fields_check(site=site)
    }

    assert problems == {
        ("secrets.E001", "list_display"),  # OfficialAccount's app_secret in a column
        ("secrets.E002", "ShowsTheSecret"),
        ("secrets.E003", "form"),
        ("secrets.E001", "search_fields"),  # a secret reached through a relation
    }


def test_a_refused_secret_leaves_later_reads_decrypted(client, django_user_model):
    account = OfficialAccountFactory(callback_token="goodToken42")
    client.force_login(superuser(django_user_model))

    refused = client.post(
        "/admin/wechat/officialaccount/add/",
        {
            "name": "New",
            "appid": "wx00000000000000d1",
            "account_type": "service",
            "app_secret": "s",
            "callback_token": "a!",
            "encoding_aes_key": "too-short",
            "message_mode": "safe",
        },
    )

    assert set(refused.context["adminform"].form.errors) == {"callback_token", "encoding_aes_key"}
    # The library's clean() left its field reading ciphertext after a refusal; ours keeps no such state.
    reread = OfficialAccount.objects.get(pk=account.pk)
    assert (reread.callback_token, reread.encoding_aes_key) == ("goodToken42", account.encoding_aes_key)
