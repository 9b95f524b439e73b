import pytest
from django.db import IntegrityError
from rest_framework.test import APIClient

from orders.models import Address
from tests.factories import AddressFactory, CustomerFactory
from tests.orders.conftest import authenticated_client

pytestmark = pytest.mark.django_db
ADDRESSES = "/api/v1/addresses"

NEW_ADDRESS = {
    "recipient": "李四",
    "phone": "13912345678",
    "region": {"province": "浙江省", "city": "杭州市", "district": "西湖区"},
    "detail": "文三路 100 号 5 楼",
}


def test_the_first_address_becomes_the_default(api, customer):
    response = api.post(ADDRESSES, NEW_ADDRESS, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body == {**NEW_ADDRESS, "id": body["id"], "is_default": True}
    assert Address.objects.get(customer=customer).is_default


def test_a_new_default_takes_over_from_the_old_one(api, customer, address):
    response = api.post(ADDRESSES, {**NEW_ADDRESS, "is_default": True}, format="json")

    assert response.status_code == 201
    address.refresh_from_db()
    assert not address.is_default
    listed = api.get(ADDRESSES).json()
    assert [entry["is_default"] for entry in listed] == [True, False]
    assert listed[0]["id"] == response.json()["id"]


def test_a_second_address_not_marked_default_leaves_the_default(api, address):
    response = api.post(ADDRESSES, NEW_ADDRESS, format="json")

    assert response.json()["is_default"] is False
    address.refresh_from_db()
    assert address.is_default


def test_the_database_refuses_two_defaults_for_one_customer(customer):
    AddressFactory(customer=customer, is_default=True)

    with pytest.raises(IntegrityError):
        AddressFactory(customer=customer, is_default=True)


def test_other_customers_each_keep_their_own_default(customer):
    AddressFactory(customer=customer, is_default=True)
    AddressFactory(is_default=True)

    assert Address.objects.filter(is_default=True).count() == 2


def test_patch_changes_only_what_is_sent_including_part_of_the_region(api, address):
    response = api.patch(f"{ADDRESSES}/{address.pk}", {"region": {"district": "福田区"}}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["region"] == {"province": "广东省", "city": "深圳市", "district": "福田区"}
    address.refresh_from_db()
    assert (address.district, address.recipient) == ("福田区", "张三")


def test_patch_is_default_moves_the_default(api, customer, address):
    other = AddressFactory(customer=customer)

    response = api.patch(f"{ADDRESSES}/{other.pk}", {"is_default": True}, format="json")

    assert response.json()["is_default"] is True
    address.refresh_from_db()
    assert not address.is_default


def test_deleting_the_default_promotes_the_newest_other_address(api, customer, address):
    older = AddressFactory(customer=customer)
    newer = AddressFactory(customer=customer)

    response = api.delete(f"{ADDRESSES}/{address.pk}")

    assert response.status_code == 204
    assert not Address.objects.filter(pk=address.pk).exists()
    assert Address.objects.get(customer=customer, is_default=True) == newer
    older.refresh_from_db()
    assert not older.is_default


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_customers_address_is_not_found(api, method):
    theirs = AddressFactory(is_default=True)

    response = getattr(api, method)(f"{ADDRESSES}/{theirs.pk}", {"recipient": "x"}, format="json")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "No such address in your address book.", "fields": {}}
    theirs.refresh_from_db()
    assert theirs.recipient == "张三"


def test_the_list_holds_only_my_addresses(api, address):
    AddressFactory()

    assert [entry["id"] for entry in api.get(ADDRESSES).json()] == [address.pk]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"phone": "not a phone"}, "phone"),
        ({"recipient": ""}, "recipient"),
        ({"region": {"province": "广东省"}}, "region"),
        ({"detail": "x" * 201}, "detail"),
    ],
)
def test_invalid_input_names_the_field(api, change, field):
    response = api.post(ADDRESSES, {**NEW_ADDRESS, **change}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == [field]


def test_the_address_book_has_a_limit(api, customer):
    AddressFactory.create_batch(20, customer=customer)

    response = api.post(ADDRESSES, NEW_ADDRESS, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "address_book_full"


def test_addresses_need_a_customer_token():
    assert APIClient().get(ADDRESSES).status_code == 401


def test_the_list_query_count_does_not_grow_with_the_book(django_assert_num_queries):
    counts = []
    for size in (2, 20):
        customer = CustomerFactory()
        AddressFactory.create_batch(size, customer=customer)
        client = authenticated_client(customer)
        with django_assert_num_queries(2) as captured:  # the token, the addresses
            assert len(client.get(ADDRESSES).json()) == size
        counts.append(len(captured))
    assert counts[0] == counts[1]
