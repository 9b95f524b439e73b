"""The floor of a payment notification, for bench/pay_notify.py: mounted by bench/baseline_urls.py only.

/bench/pay-notify-floor/ does what any correct notification handler must and nothing more: it reads
the body, writes the notification's id durably (one INSERT in its own committed transaction, on
Django's connection as production's settings make it, so with the same kept connection and health
check) and answers SUCCESS only after the commit. It verifies no signature and matches no payment:
it measures what the stack (gunicorn, Django, the middleware) and PostgreSQL's durable commit cost
a notification, so the bench can tell that from what our code adds.
"""

import re

from django.db import connection
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from wechat.pay.v2 import build_xml

# Created by bench/pay_notify.py in the bench's own database; a copy's id is already there.
FLOOR_TABLE = "bench_pay_notify_floor"
FLOOR_TABLE_CREATE = f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (transaction_id text PRIMARY KEY)"
# The id, found without parsing: the floor pays nothing a handler could do without.
TRANSACTION_ID = re.compile(rb"<transaction_id>(?:<!\[CDATA\[)?([0-9A-Za-z_-]{1,64})")
SUCCESS = build_xml({"return_code": "SUCCESS", "return_msg": "OK"}, cdata=True)
FAIL = build_xml({"return_code": "FAIL", "return_msg": "no transaction_id"}, cdata=True)


@csrf_exempt
@require_POST
def pay_notify_floor(request) -> HttpResponse:
    found = TRANSACTION_ID.search(request.body)
    if found is None:
        return HttpResponse(FAIL, status=400, content_type="text/xml; charset=utf-8")
    # Autocommit: the INSERT is its own transaction, committed (and flushed to the WAL) before the answer.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {FLOOR_TABLE} (transaction_id) VALUES (%s) ON CONFLICT DO NOTHING",
            [found.group(1).decode()],
        )
    return HttpResponse(SUCCESS, content_type="text/xml; charset=utf-8")
