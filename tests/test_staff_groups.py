import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.db import connection

from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

staff_groups_migration = importlib.import_module("articles.migrations.0002_staff_groups")
# The RunPython functions read only the connection from their schema editor, and
# SQLite cannot open a real one inside the test's transaction.
schema_editor = SimpleNamespace(connection=connection)

CATALOG_EVERYTHING = {
    f"catalog.{action}_{model}"
    for model in ["category", "product", "sku", "productimage"]
    for action in ["add", "change", "delete", "view"]
}
CATALOG_VIEW = {f"catalog.view_{model}" for model in ["category", "product", "sku", "productimage"]}
# From catalog's own grants migration; adjustments are added through a service, never changed or deleted.
STOCK_ADJUSTMENTS = {"catalog.add_stockadjustment", "catalog.view_stockadjustment"}
ORDERS_OPERATIONS = {
    "orders.view_order",
    "orders.ship_order",
    "orders.view_orderline",
    "orders.view_orderevent",
    "orders.view_skustockandsales",
    "orders.view_payment",
    "orders.view_paymentnotification",
    "orders.view_paymentevent",
    "orders.refund_order",
    "orders.view_refund",
    "orders.view_refundevent",
    "orders.view_reconciliationrun",
    "orders.start_reconciliationrun",
    "orders.view_discrepancy",
    "orders.resolve_discrepancy",
    "orders.view_reconciliationrunevent",
    "orders.view_discrepancyevent",
}
# Operations pays and refunds through these, so it reads them (never their secrets); only admins change them.
PAYMENT_ACCOUNTS_VIEW = {"wechat.view_merchant", "wechat.view_miniprogram"}
# What later migrations (customers, catalog, orders, wechat) grant Operations beyond the staff-groups migration.
CUSTOMERS_OPERATIONS = {"customers.view_customer", "customers.revoke_tokens_customer"}
# Operations configures the buyers' subscribe message templates and reads what was sent and accepted.
SUBSCRIBE_MESSAGES_OPERATIONS = {
    *(
        f"subscribe_messages.{action}_{model}"
        for action in ["add", "change", "delete", "view"]
        for model in ["subscribemessagetemplate", "templatekeyword"]
    ),
    "subscribe_messages.view_subscribemessage",
    "subscribe_messages.view_subscribemessageevent",
    "subscribe_messages.view_subscriptionacceptance",
}
# Operations reads the campaigns Marketing starts and their Mini Program codes (campaigns' grants migration).
CAMPAIGNS_VIEW = {"campaigns.view_campaign", "campaigns.view_miniprogramcode"}
# Both read the revenue report (campaigns' revenue grants migration).
REVENUE_VIEW = {"campaigns.view_revenue_campaign"}
OPERATIONS_LATER = (
    CUSTOMERS_OPERATIONS
    | STOCK_ADJUSTMENTS
    | ORDERS_OPERATIONS
    | PAYMENT_ACCOUNTS_VIEW
    | SUBSCRIBE_MESSAGES_OPERATIONS
    | CAMPAIGNS_VIEW
    | REVENUE_VIEW
)
OPERATIONS_EVERYTHING = CATALOG_EVERYTHING | {"articles.view_article"} | OPERATIONS_LATER
ARTICLE_EVERYTHING = {f"articles.{action}_article" for action in ["add", "change", "delete", "view"]}
# What later migrations (wechat, articles' followers and pushes) grant Marketing beyond the staff-groups migration.
MARKETING_LATER = {
    "wechat.view_officialaccount",
    "articles.view_follower",
    "articles.view_followertag",
    "articles.view_followedaccount",
    "articles.sync_followedaccount",
    "articles.view_followersyncrun",
    "articles.view_followersyncrunevent",
    "articles.add_push",
    "articles.change_push",
    "articles.view_push",
    "articles.send_push",
    "articles.add_consolemasssend",
    "articles.view_consolemasssend",
    "campaigns.add_campaign",
    "campaigns.change_campaign",
    "campaigns.view_campaign",
    "campaigns.add_miniprogramcode",
    "campaigns.view_miniprogramcode",
    "campaigns.view_revenue_campaign",
    "articles.view_articledailystatistics",
    "articles.view_articletotalstatistics",
    "articles.view_followersourcedailystatistics",
    "articles.view_followerdailystatistics",
    "articles.view_statisticsday",
}
MARKETING_EVERYTHING = ARTICLE_EVERYTHING | CATALOG_VIEW | MARKETING_LATER


def _group_permissions(name: str) -> set[str]:
    return {
        f"{app_label}.{codename}"
        for app_label, codename in Group.objects.get(name=name).permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


@pytest.fixture
def staff_member(django_user_model):
    def member_of(group_name: str):
        user = django_user_model.objects.create_user(username=group_name.lower(), is_staff=True)
        user.groups.add(Group.objects.get(name=group_name))
        return user

    return member_of


def test_marketing_writes_articles_and_reads_the_catalog_and_official_accounts():
    assert _group_permissions("Marketing") == MARKETING_EVERYTHING


def test_operations_runs_the_catalog_and_reads_articles():
    assert _group_permissions("Operations") == OPERATIONS_EVERYTHING


def test_marketing_cannot_change_products(staff_member):
    marketer = staff_member("Marketing")

    assert marketer.has_perm("catalog.view_product")
    assert not marketer.has_perm("catalog.change_product")
    assert not marketer.has_perm("catalog.add_sku")
    assert marketer.has_perm("articles.change_article")


def test_operations_cannot_change_articles(staff_member):
    operator = staff_member("Operations")

    assert operator.has_perm("catalog.change_sku")
    assert operator.has_perm("articles.view_article")
    assert not operator.has_perm("articles.change_article")


def test_marketing_is_refused_the_product_add_page(client, staff_member):
    client.force_login(staff_member("Marketing"))

    assert client.get("/admin/catalog/product/add/").status_code == 403
    assert client.get("/admin/catalog/product/").status_code == 200
    assert client.get("/admin/articles/article/add/").status_code == 200


def test_marketing_sees_a_product_read_only(client, staff_member):
    product = ProductFactory()
    client.force_login(staff_member("Marketing"))

    response = client.get(f"/admin/catalog/product/{product.pk}/change/")

    assert response.status_code == 200
    assert b'name="_save"' not in response.content


def test_the_migration_reverses_and_reapplies_cleanly():
    staff_groups_migration.revoke(apps, schema_editor)
    # Each group keeps what later migrations (customers, catalog, orders, wechat, articles) granted it.
    assert _group_permissions("Marketing") == MARKETING_LATER
    assert _group_permissions("Operations") == OPERATIONS_LATER

    staff_groups_migration.grant(apps, schema_editor)
    staff_groups_migration.grant(apps, schema_editor)

    assert _group_permissions("Marketing") == MARKETING_EVERYTHING
    assert _group_permissions("Operations") == OPERATIONS_EVERYTHING


def test_revoking_keeps_a_group_that_other_grants_still_use():
    Group.objects.get(name="Marketing").permissions.add(
        *Group.objects.get(name="Operations").permissions.filter(codename="change_product")
    )

    staff_groups_migration.revoke(apps, schema_editor)

    assert _group_permissions("Marketing") == {"catalog.change_product"} | MARKETING_LATER
    assert _group_permissions("Operations") == OPERATIONS_LATER


def test_marketing_builds_and_schedules_pushes_but_cannot_delete_them(client, staff_member):
    marketer = staff_member("Marketing")

    assert marketer.has_perm("articles.send_push")
    assert not marketer.has_perm("articles.delete_push")
    client.force_login(marketer)
    assert client.get("/admin/articles/push/add/").status_code == 200
    assert client.get("/admin/articles/push/calendar/").status_code == 200


def test_operations_cannot_see_pushes(client, staff_member):
    client.force_login(staff_member("Operations"))

    assert client.get("/admin/articles/push/").status_code == 403
    assert client.get("/admin/articles/push/calendar/").status_code == 403
