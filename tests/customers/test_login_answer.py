"""login_answer() builds LoginApi.OutputSerializer's answer by hand, for logins over HTTP: the same, always."""

import json

import pytest

from campaigns.sources import Source
from customers.apis import LoginApi, login_answer
from customers.services import customer_login, customer_profile_update
from tests.customers.test_mini_programs import SECOND_APPID, second_mini_program  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db


def _both(login) -> tuple[str, str]:
    # Compared as the JSON a client gets: key order and types included.
    by_hand = json.dumps(login_answer(login), ensure_ascii=False)
    by_serializer = json.dumps(LoginApi.OutputSerializer(login).data, ensure_ascii=False)
    return by_hand, by_serializer


def test_a_first_login_and_a_returning_one_with_a_profile_and_a_unionid(sandbox):
    first = customer_login(code=sandbox.mint_login_code(openid="oAnswer")["code"], source=Source(campaign="spring"))
    by_hand, by_serializer = _both(first)

    assert by_hand == by_serializer
    assert '"unionid": ""' in by_hand

    customer_profile_update(
        customer=first.customer, changes={"nickname": "小明", "avatar_url": "https://a.example/x.png"}
    )
    code = sandbox.mint_login_code(openid="oAnswer", unionid="uAnswer")["code"]
    by_hand, by_serializer = _both(customer_login(code=code))

    assert by_hand == by_serializer
    assert '"nickname": "小明"' in by_hand
    assert '"unionid": "uAnswer"' in by_hand


def test_a_login_through_a_second_mini_program(sandbox, second_mini_program):  # noqa: F811 - the fixture
    login = customer_login(
        code=sandbox.mint_login_code(openid="oSecond", appid=SECOND_APPID)["code"], appid=SECOND_APPID
    )

    by_hand, by_serializer = _both(login)

    assert by_hand == by_serializer
