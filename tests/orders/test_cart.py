import pytest

from orders.models import CartItem
from tests.factories import CartItemFactory, CustomerFactory, ProductImageFactory, SkuFactory
from tests.orders.conftest import authenticated_client

pytestmark = pytest.mark.django_db
CART = "/api/v1/cart"
ITEMS = "/api/v1/cart/items"


def test_adding_a_sku_shows_it_in_the_cart_at_todays_price(api, sku):
    response = api.post(ITEMS, {"sku_id": sku.pk, "quantity": 2}, format="json")

    assert response.status_code == 201, response.json()
    [line] = response.json()["items"]
    assert line["sku_id"] == sku.pk
    assert (line["title"], line["specs"]) == ("Ceramic mug", {"color": "white"})
    assert line["image"].startswith("http://testserver/media/catalog/")
    assert (line["price_fen"], line["quantity"], line["subtotal_fen"]) == (3990, 2, 7980)
    assert (line["available"], line["unavailable_reason"]) == (True, None)
    assert response.json()["subtotal_fen"] == 7980

    sku.price_fen = 2990
    sku.save()
    assert api.get(CART).json()["items"][0]["subtotal_fen"] == 5980


def test_adding_a_sku_already_in_the_cart_adds_to_its_line(api, customer, sku):
    api.post(ITEMS, {"sku_id": sku.pk, "quantity": 2}, format="json")
    response = api.post(ITEMS, {"sku_id": sku.pk, "quantity": 3}, format="json")

    assert [line["quantity"] for line in response.json()["items"]] == [5]
    assert CartItem.objects.filter(customer=customer).count() == 1


def test_a_line_cannot_grow_past_the_limit(api, sku):
    api.post(ITEMS, {"sku_id": sku.pk, "quantity": 990}, format="json")

    response = api.post(ITEMS, {"sku_id": sku.pk, "quantity": 10}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"quantity": ["A line holds at most 999 of one item."]}
    assert CartItem.objects.get().quantity == 990


@pytest.mark.parametrize("off_shelf", ["sku", "product"])
def test_an_off_shelf_sku_cannot_be_added(api, sku, off_shelf):
    target = sku if off_shelf == "sku" else sku.product
    target.is_active = False
    target.save()

    response = api.post(ITEMS, {"sku_id": sku.pk, "quantity": 1}, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "code": "sku_unavailable",
        "message": "This item is no longer for sale.",
        "fields": {"sku_id": sku.pk},
    }


def test_an_unknown_sku_is_unavailable(api):
    response = api.post(ITEMS, {"sku_id": 999999, "quantity": 1}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "sku_unavailable"


@pytest.mark.parametrize("body", [{"sku_id": 1, "quantity": 0}, {"sku_id": 2**63, "quantity": 1}, {"quantity": 1}])
def test_invalid_input_is_a_field_error(api, body):
    response = api.post(ITEMS, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_the_cart_says_which_lines_cannot_be_ordered_and_why(api, customer):
    fine = CartItemFactory(customer=customer, sku=SkuFactory(stock=5), quantity=2)
    off_shelf = CartItemFactory(customer=customer, sku=SkuFactory(stock=5, is_active=False), quantity=1)
    product_off_shelf = CartItemFactory(customer=customer, sku=SkuFactory(stock=5, product__is_active=False))
    sold_out = CartItemFactory(customer=customer, sku=SkuFactory(stock=0), quantity=1)
    short = CartItemFactory(customer=customer, sku=SkuFactory(stock=2, price_fen=100), quantity=3)

    cart = api.get(CART).json()

    reasons = {line["id"]: (line["available"], line["unavailable_reason"]) for line in cart["items"]}
    assert reasons == {
        fine.pk: (True, None),
        off_shelf.pk: (False, "off_shelf"),
        product_off_shelf.pk: (False, "off_shelf"),
        sold_out.pk: (False, "out_of_stock"),
        short.pk: (False, "insufficient_stock"),
    }
    assert cart["subtotal_fen"] == 2 * 3990


def test_patch_sets_the_quantity_and_delete_removes_the_line(api, customer, sku):
    line = CartItemFactory(customer=customer, sku=sku, quantity=1)

    patched = api.patch(f"{ITEMS}/{line.pk}", {"quantity": 4}, format="json")
    assert patched.status_code == 200
    assert patched.json()["items"][0]["quantity"] == 4

    assert api.delete(f"{ITEMS}/{line.pk}").status_code == 204
    assert api.get(CART).json() == {"items": [], "subtotal_fen": 0}


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_another_customers_cart_line_is_not_found(api, method):
    theirs = CartItemFactory(quantity=1)

    response = getattr(api, method)(f"{ITEMS}/{theirs.pk}", {"quantity": 5}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.quantity == 1


def test_the_cart_shows_only_my_lines(api, customer, sku):
    CartItemFactory(sku=sku)

    assert api.get(CART).json()["items"] == []


def test_the_cart_query_count_is_the_same_for_10_and_100_lines(django_assert_num_queries):
    for size in (10, 100):
        customer = CustomerFactory()
        for _ in range(size):
            sku = SkuFactory()
            ProductImageFactory(product=sku.product)
            CartItemFactory(customer=customer, sku=sku)
        client = authenticated_client(customer)
        with django_assert_num_queries(3):  # the token, the lines with SKUs and products, their images
            assert len(client.get(CART).json()["items"]) == size
