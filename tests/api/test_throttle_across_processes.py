"""The login limit holds when a burst is spread over several server processes sharing Redis."""

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.api.servers import gunicorn_servers
from tests.real_services import require_redis

LOGINS = 60
CONCURRENCY = 16
LIMIT = 30


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_concurrent_burst_across_two_servers_lets_exactly_the_limit_through(sandbox, sandbox_server):
    environment = {
        "CACHE_URL": require_redis(),
        "API_LOGIN_THROTTLE_RATE": f"{LIMIT}/min",
        "API_NUM_PROXIES": "1",  # the client's address is the last X-Forwarded-For entry
        "WECHAT_API_BASE_URL": sandbox_server.url,
    }
    # A fresh documentation address per run: no count left in Redis by an earlier run applies.
    client_address = f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"
    codes = [sandbox.mint_login_code()["code"] for _ in range(LOGINS + 1)]

    with gunicorn_servers(2, environment=environment) as urls:

        def login(number: int, address: str = client_address) -> requests.Response:
            return requests.post(
                f"{urls[number % 2]}/api/v1/auth/login",
                json={"code": codes[number]},
                headers={"X-Forwarded-For": address},
                timeout=30,
            )

        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            responses = list(pool.map(login, range(LOGINS)))
        reached_wechat = len(sandbox.received("/sns/jscode2session"))
        another_client = login(LOGINS, address="2001:db8::1:2")

    assert Counter(response.status_code for response in responses) == {200: LIMIT, 429: LOGINS - LIMIT}
    for refused in (response for response in responses if response.status_code == 429):
        assert refused.json()["code"] == "throttled"
        assert refused.json()["fields"] == {}
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Refused logins never reached WeChat, so they spent no codes.
    assert reached_wechat == LIMIT
    assert another_client.status_code == 200  # the limit is per client address
