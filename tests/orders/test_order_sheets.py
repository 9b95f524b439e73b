"""Operations' sheets: the order export (CSV, XLSX) of the filtered list, a shipping sheet, packing lists."""

import csv
import io

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from orders.carriers import carrier_from_text, tracking_number_fits
from orders.models import Order, OrderActor, OrderStatus
from orders.services.status import order_ship, order_transition
from tests.factories import AddressFactory, CustomerFactory, SkuFactory

pytestmark = pytest.mark.django_db

SHIP_SHEET = reverse("admin:orders_order_ship_sheet")


@pytest.fixture
def operator(client, django_user_model):
    user = django_user_model.objects.create_user(username="ops", is_staff=True)
    user.groups.add(Group.objects.get(name="Operations"))
    client.force_login(user)
    return user


@pytest.fixture
def paid(place_order):
    """A paid order of one SKU (a fresh SKU each, so the stock never runs out)."""

    def make(**options):
        order = place_order([(SkuFactory(stock=10, price_fen=39900, product__title="Linen bed"), 1)], **options)
        return order_transition(order_id=order.pk, to_status=OrderStatus.PAID, actor=OrderActor.PAYMENT)

    return make


def _csv_upload(rows, *, header=("订单号", "快递公司", "运单号"), encoding="utf-8-sig") -> SimpleUploadedFile:
    text = io.StringIO()
    csv.writer(text).writerows([header, *rows])
    return SimpleUploadedFile("shipping.csv", text.getvalue().encode(encoding), content_type="text/csv")


def _xlsx_upload(rows, *, header=("订单号", "快递公司", "运单号")) -> SimpleUploadedFile:
    workbook = Workbook()
    sheet = workbook.active
    for row in [header, *rows]:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile("shipping.xlsx", buffer.getvalue())


def _row_errors(response) -> dict[int, list[str]]:
    assert response.status_code == 200, "expected the sheet page again, with its rows' problems"
    return dict(response.context["row_errors"])


# --- carriers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("顺丰速运", "sf"),
        ("顺丰", "sf"),
        ("SF Express", "sf"),
        ("sf", "sf"),
        ("中通快递", "zto"),
        ("极兔速递", "jtexpress"),
        ("邮政快递包裹", "chinapost"),
        ("J&T Express", "jtexpress"),
        ("京东物流", "jd"),
        ("ems", "ems"),
        ("信鸽", None),
    ],
)
def test_carriers_are_known_by_code_chinese_and_english_name(text, code):
    assert carrier_from_text(text) == code


@pytest.mark.parametrize(
    ("carrier", "number", "fits"),
    [
        ("sf", "SF1234567890123", True),
        ("sf", "123456789012", True),
        ("sf", "YT1234567890123", False),
        ("ems", "EA123456789CN", True),
        ("zto", "75012345678901", True),
        ("zto", "X1", False),
        ("jtexpress", "JT0001234567890", True),
        ("yto", "YT1234567890123", True),
    ],
)
def test_tracking_numbers_are_checked_against_the_carriers_format(carrier, number, fits):
    assert tracking_number_fits(carrier=carrier, tracking_number=number) is fits


def test_the_ship_page_offers_carriers_by_their_chinese_names(client, operator, paid):
    page = client.get(reverse("admin:orders_order_ship", args=[paid().pk])).content.decode()

    for name in (
        "顺丰速运",
        "中通快递",
        "圆通速递",
        "韵达快递",
        "申通快递",
        "京东物流",
        "EMS",
        "极兔速递",
        "邮政快递包裹",
    ):
        assert name in page


def test_the_ship_page_refuses_a_number_not_in_the_carriers_format(client, operator, paid):
    order = paid()

    response = client.post(
        reverse("admin:orders_order_ship", args=[order.pk]), {"carrier": "sf", "tracking_number": "YT1234567890123"}
    )

    assert "is not a 顺丰速运 tracking number" in response.context["form"].errors["tracking_number"][0]
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


# --- shipping from a sheet -----------------------------------------------------------------------


@pytest.mark.parametrize("upload", [_csv_upload, _xlsx_upload])
def test_a_good_sheet_ships_every_order_through_the_status_machine(client, operator, paid, upload):
    first, second = paid(), paid()

    response = client.post(
        SHIP_SHEET,
        {
            "sheet": upload(
                [(first.order_no, "顺丰速运", "SF1234567890123"), (second.order_no, "中通", "75012345678901")]
            )
        },
    )

    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.carrier, first.tracking_number) == ("shipped", "sf", "SF1234567890123")
    assert (second.status, second.carrier, second.tracking_number) == ("shipped", "zto", "75012345678901")
    for order in (first, second):
        event = order.events.latest("id")
        assert (event.from_status, event.to_status, event.actor, event.staff_user) == (
            "paid",
            "shipped",
            "staff",
            operator,
        )


def test_one_bad_row_ships_nothing_and_every_bad_row_is_listed(client, operator, paid, place_order, sku):
    good, shipped, other = paid(), paid(), paid()
    order_ship(order=shipped, carrier="sf", tracking_number="SF1234567890123", staff_user=operator)
    unpaid = place_order([(sku, 1)])

    response = client.post(
        SHIP_SHEET,
        {
            "sheet": _csv_upload(
                [
                    (good.order_no, "顺丰速运", "SF1234567890124"),  # row 2: fine on its own
                    ("999999", "顺丰速运", "SF1234567890125"),  # row 3: no such order
                    (unpaid.order_no, "中通快递", "75012345678901"),  # row 4: not paid
                    (shipped.order_no, "中通快递", "75012345678902"),  # row 5: shipped already
                    (other.order_no, "信鸽快递", "75012345678903"),  # row 6: unknown carrier
                    ("", "", ""),  # blank: skipped
                    (other.order_no, "圆通速递", "<script>"),  # row 8: bad number, and the order twice
                ]
            )
        },
    )

    errors = _row_errors(response)
    assert sorted(errors) == [3, 4, 5, 6, 8]
    assert errors[3] == ["No order 999999."]
    assert "is pending payment: only paid orders not yet shipped can be shipped" in errors[4][0]
    assert "is shipped: only paid orders" in errors[5][0]
    assert errors[6][0].startswith("Unknown carrier “信鸽快递”")
    assert any("on row 6 already" in message for message in errors[8])
    assert any("is not a 圆通速递 tracking number" in message for message in errors[8])
    assert "Nothing was shipped: 5 rows cannot be shipped." in response.content.decode()
    assert Order.objects.filter(status=OrderStatus.SHIPPED).count() == 1  # only the one shipped before
    good.refresh_from_db()
    assert good.status == OrderStatus.PAID and good.events.count() == 2


def test_a_sheet_from_chinese_excel_in_gb18030_and_english_headers_both_read(client, operator, paid):
    chinese, english = paid(), paid()

    client.post(
        SHIP_SHEET, {"sheet": _csv_upload([(chinese.order_no, "韵达快递", "4312345678901")], encoding="gb18030")}
    )
    client.post(
        SHIP_SHEET,
        {
            "sheet": _xlsx_upload(
                [(english.order_no, "EMS", "EA123456789CN")], header=("Order number", "Carrier", "Tracking number")
            )
        },
    )

    assert Order.objects.get(pk=chinese.pk).carrier == "yunda"
    assert Order.objects.get(pk=english.pk).tracking_number == "EA123456789CN"


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("orders.txt", b"hello"), "Upload a .csv or .xlsx file."),
        (SimpleUploadedFile("orders.xlsx", b"not a zip"), "not an Excel workbook"),
        (_csv_upload([("1", "sf", "SF1234567890123")], header=("order", "tracking")), "“快递公司” is missing"),
    ],
)
def test_an_unreadable_sheet_is_a_form_error_not_a_500(client, operator, upload, message):
    response = client.post(SHIP_SHEET, {"sheet": upload})

    assert response.status_code == 200
    assert message in response.context["form"].errors["sheet"][0]


def test_staff_without_the_ship_permission_cannot_ship_from_a_sheet(client, django_user_model, paid):
    order = paid()
    viewer = django_user_model.objects.create_user(username="viewer", is_staff=True)
    viewer.user_permissions.add(*Group.objects.get(name="Operations").permissions.exclude(codename="ship_order"))
    client.force_login(viewer)

    listing = client.get(reverse("admin:orders_order_changelist")).content.decode()
    refused = client.post(SHIP_SHEET, {"sheet": _csv_upload([(order.order_no, "sf", "SF1234567890123")])})

    assert 'id="ship-from-sheet"' not in listing
    assert refused.status_code == 403
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


# --- export --------------------------------------------------------------------------------------


def test_the_csv_export_is_the_filtered_list_every_page_in_bounded_queries(
    client, operator, paid, place_order, sku, django_assert_max_num_queries
):
    buyer = CustomerFactory()
    shipped = paid(
        buyer=buyer, to_address=AddressFactory(customer=buyer, recipient="=HYPERLINK(1)", phone="13900001111")
    )
    order_ship(order=shipped, carrier="jtexpress", tracking_number="JT0001234567890", staff_user=operator)
    for _ in range(120):  # more than a changelist page
        paid()
    place_order([(sku, 1)])  # unpaid: filtered out

    with django_assert_max_num_queries(12):
        response = client.get(reverse("admin:orders_order_export", args=["csv"]), {"paid": "yes"})
        body = b"".join(response.streaming_content).decode("utf-8")

    assert response["Content-Type"].startswith("text/csv")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[0][:3] == ["Order number", "Carrier", "Tracking number"]
    assert len(rows) == 1 + 121
    [row] = [row for row in rows if row[0] == shipped.order_no]
    assert row[1:3] == ["极兔速递", "JT0001234567890"]
    assert row[4:6] == ["'=HYPERLINK(1)", "13900001111"]  # never a formula in the operator's spreadsheet
    assert row[7] == "Linen bed × 1" and row[9] == "399.00"


def test_the_xlsx_export_keeps_the_filter_and_order_numbers_as_text(client, operator, paid, place_order, sku):
    wanted = paid()
    place_order([(sku, 1)])

    response = client.get(reverse("admin:orders_order_export", args=["xlsx"]), {"status__exact": "paid"})

    sheet = load_workbook(io.BytesIO(response.content)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:3] == ("Order number", "Carrier", "Tracking number")
    assert [row[0] for row in values[1:]] == [wanted.order_no]
    assert values[1][9] == 399


def test_the_changelist_links_its_exports_with_its_filters(client, operator, paid):
    paid()

    page = client.get(reverse("admin:orders_order_changelist"), {"status__exact": "paid"}).content.decode()

    assert f"{reverse('admin:orders_order_export', args=['csv'])}?status__exact=paid" in page
    assert f"{reverse('admin:orders_order_export', args=['xlsx'])}?status__exact=paid" in page


def test_an_exported_sheet_filled_in_is_a_shipping_sheet(client, operator, paid):
    order = paid()
    exported = load_workbook(
        io.BytesIO(client.get(reverse("admin:orders_order_export", args=["xlsx"]), {"status__exact": "paid"}).content)
    ).active
    exported["B2"], exported["C2"] = "顺丰速运", "SF1234567890123"
    buffer = io.BytesIO()
    exported.parent.save(buffer)

    response = client.post(SHIP_SHEET, {"sheet": SimpleUploadedFile("to-ship.xlsx", buffer.getvalue())})

    assert response.status_code == 302
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED


# --- packing lists -------------------------------------------------------------------------------


def test_packing_lists_print_the_selected_orders_lines_and_addresses(
    client, operator, paid, django_assert_max_num_queries
):
    orders = [paid() for _ in range(5)]

    with django_assert_max_num_queries(10):
        response = client.post(
            reverse("admin:orders_order_changelist"),
            {"action": "print_packing_list", "_selected_action": [order.pk for order in orders[:3]]},
        )

    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('class="packing-list"') == 3
    assert orders[0].order_no in page and orders[4].order_no not in page
    assert orders[0].recipient in page and orders[0].phone in page and "Linen bed" in page
    assert "@media print" in page and "window.print()" in page


def test_an_export_with_a_filter_the_list_does_not_know_goes_back_to_the_list(client, operator):
    response = client.get(reverse("admin:orders_order_export", args=["csv"]), {"no_such_field__exact": "1"})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:orders_order_changelist"))
    assert client.get(reverse("admin:orders_order_export", args=["pdf"])).status_code == 404
