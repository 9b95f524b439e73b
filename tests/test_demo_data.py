import io
import time

import pytest
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from PIL import Image

from articles.models import Article
from catalog.models import Category, Product, ProductImage, Sku
from demo import data

pytestmark = pytest.mark.django_db


@pytest.fixture
def debug_on(settings, tmp_path):
    # The test runner turns DEBUG off; the command refuses to run without it.
    settings.DEBUG = True
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _load_demo_data(monkeypatch, *, password: str | None = None) -> str:
    if password is None:
        monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("DEMO_ADMIN_PASSWORD", password)
    output = io.StringIO()
    call_command("load_demo_data", stdout=output)
    return output.getvalue()


def _printed_password(output: str) -> str:
    return next(line.split("password:")[1].strip() for line in output.splitlines() if "password:" in line)


def _row_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in [Category, Product, Sku, ProductImage, Article, get_user_model()]
    }


def test_loads_the_demo_shop_and_prints_a_working_login(debug_on, monkeypatch):
    output = _load_demo_data(monkeypatch)

    assert _row_counts() == {
        "Category": len(data.CATEGORIES),
        "Product": len(data.PRODUCTS),
        "Sku": sum(len(product.skus) for product in data.PRODUCTS),
        "ProductImage": len(data.PRODUCTS),
        "Article": len(data.ARTICLES),
        "User": 1,
    }
    assert "username: demo" in output
    admin = authenticate(username="demo", password=_printed_password(output))
    assert admin is not None and admin.is_staff and admin.is_superuser
    assert set(admin.groups.values_list("name", flat=True)) == {"Marketing", "Operations"}
    assert Sku.objects.get(code="MUG-350-WHITE").price_fen == 3990
    assert Sku.objects.get(code="TEASET-6CUP").price_fen == 12800


def test_the_demo_shop_takes_payments_through_the_settings_mini_program_and_merchant(debug_on, monkeypatch, settings):
    from wechat.merchants import mini_program_default
    from wechat.models import Merchant, MiniProgram

    _load_demo_data(monkeypatch)
    _load_demo_data(monkeypatch)

    mini_program = MiniProgram.objects.get()
    assert (mini_program.name, mini_program.appid) == (data.MINI_PROGRAM_NAME, settings.WECHAT_MINI_PROGRAM_APPID)
    assert mini_program.app_secret == settings.WECHAT_MINI_PROGRAM_SECRET
    merchant = Merchant.objects.get()
    assert (merchant.name, merchant.mch_id, merchant.api_version) == (
        data.MERCHANT_NAME,
        settings.WECHAT_PAY_MCH_ID,
        "v2",
    )
    assert merchant.api_key == settings.WECHAT_PAY_API_KEY
    assert mini_program.merchant == merchant and mini_program_default() == mini_program


def test_the_demo_account_is_linked_to_the_demo_mini_program_for_article_cards(debug_on, monkeypatch):
    from wechat.linked_mini_programs import article_mini_program
    from wechat.models import MiniProgram

    _load_demo_data(monkeypatch)

    assert article_mini_program() == MiniProgram.objects.get()


def test_a_second_run_creates_no_duplicates_and_keeps_the_password(debug_on, monkeypatch, client):
    first_password = _printed_password(_load_demo_data(monkeypatch))
    counts_after_first_run = _row_counts()
    files_after_first_run = sorted(path.name for path in debug_on.rglob("*.jpg"))
    assert client.login(username="demo", password=first_password)

    second_output = _load_demo_data(monkeypatch)

    assert _row_counts() == counts_after_first_run
    assert sorted(path.name for path in debug_on.rglob("*.jpg")) == files_after_first_run
    assert "password: unchanged" in second_output and first_password not in second_output
    assert authenticate(username="demo", password=first_password) is not None
    # The session staff opened before the rerun still works: its hash of the password did not change.
    assert client.get("/admin/").status_code == 200


def test_demo_admin_password_set_replaces_the_password_on_a_rerun(debug_on, monkeypatch):
    first_password = _printed_password(_load_demo_data(monkeypatch))

    output = _load_demo_data(monkeypatch, password="tea-and-mugs-2026")

    assert _printed_password(output) == "tea-and-mugs-2026"
    assert authenticate(username="demo", password="tea-and-mugs-2026") is not None
    assert authenticate(username="demo", password=first_password) is None


def test_the_password_comes_from_the_environment_when_set(debug_on, monkeypatch):
    output = _load_demo_data(monkeypatch, password="tea-and-mugs-2024")

    assert _printed_password(output) == "tea-and-mugs-2024"
    assert authenticate(username="demo", password="tea-and-mugs-2024") is not None


def test_demo_articles_fit_wechat_and_have_jpeg_covers(debug_on, monkeypatch):
    _load_demo_data(monkeypatch)

    for article in Article.objects.all():
        article.full_clean()
        with Image.open(article.cover.path) as cover:
            assert (cover.format, cover.size) == ("JPEG", (900, 383))
        assert article.cover.size < 64 * 1024  # already fits WeChat's thumbnail limit
        assert article.created_by.username == "demo"


def test_refuses_to_run_without_debug(settings, monkeypatch):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="runs only with DJANGO_DEBUG=true"):
        _load_demo_data(monkeypatch)

    assert not get_user_model().objects.exists()
    assert not Product.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_demo_account_hears_the_sandbox_started_as_make_demo_starts_it(
    debug_on, monkeypatch, live_server, staff_groups
):
    """make demo runs the sandbox with --callback-base-url: a follower's event reaches the demo's account."""
    from wechat.models import OfficialAccount
    from wechat.signals import official_account_message_received
    from wechat_sandbox.client import SandboxClient
    from wechat_sandbox.server import sandbox_apps_from_settings, start_in_thread

    _load_demo_data(monkeypatch)
    account = OfficialAccount.objects.get()
    heard = []

    def hear(sender, account, message, **kwargs):
        heard.append(message)

    official_account_message_received.connect(hear)
    running = start_in_thread(apps=sandbox_apps_from_settings(callback_base_url=live_server.url))
    sandbox = SandboxClient(running.url)
    try:
        sandbox.send_follower_event(appid=account.appid, openid="o-demo-follower", event="subscribe")
        deadline = time.monotonic() + 10
        while sandbox.outbox("pending") + sandbox.outbox("delivering") and time.monotonic() < deadline:
            time.sleep(0.05)
        [delivery] = sandbox.outbox()
    finally:
        running.stop()
        official_account_message_received.disconnect(hear)

    assert account.message_mode == "safe"
    assert delivery["state"] == "delivered"
    assert [(message["Event"], message["FromUserName"]) for message in heard] == [("subscribe", "o-demo-follower")]


def test_the_readme_names_every_port_variable_the_makefile_exports():
    makefile = (settings.BASE_DIR / "Makefile").read_text()
    readme = (settings.BASE_DIR / "README.md").read_text()
    exported = [name for line in makefile.splitlines() if line.startswith("export ") for name in line.split()[1:]]
    port_variables = [name for name in exported if name.endswith("_PORT")]

    assert "WECHAT_SANDBOX_TLS_PORT" in port_variables
    assert [name for name in port_variables if f"`{name}`" not in readme] == []
