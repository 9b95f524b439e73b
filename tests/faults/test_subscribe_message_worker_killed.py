"""The worker SIGKILLed after WeChat accepted a subscribe message and before we stored its answer.

WeChat has no idempotency key for cgi-bin/message/subscribe/send, so this is the one moment that could
send a buyer the same message twice. The dying worker (tests/faults/dying_worker.py) runs the product's
own app and kills itself on the log line written as WeChat's ok arrives. Then a fresh worker runs the
task again twice: once as a new run (the hook firing again, staff re-queueing), once with the killed
task's own id (what the broker redelivers once the unacknowledged message comes back).
"""

import signal
import time
import uuid

import pytest

from tests.articles.pushes import wait_for
from wechat_sandbox.client import SandboxClient

pytestmark = [pytest.mark.faults, pytest.mark.services, pytest.mark.timeout(300)]

SETUP = """
import json
from orders.services.placement import order_create
from subscribe_messages.models import SubscribeMessageTemplate, TemplateKeyword
from subscribe_messages.services.acceptances import subscription_results_record
from tests.factories import AddressFactory, CustomerFactory, SkuFactory
from wechat.merchants import mini_program_default
template = SubscribeMessageTemplate.objects.create(
    mini_program=mini_program_default(), template_id={template_id!r}, title="付款成功通知", event="paid"
)
TemplateKeyword.objects.create(template=template, keyword="character_string1", order_field="order_no")
TemplateKeyword.objects.create(template=template, keyword="amount2", order_field="total")
customer = CustomerFactory(openid={openid!r})
address = AddressFactory(customer=customer, is_default=True)
items = [{{"sku_id": SkuFactory(stock=5).pk, "quantity": 1}}]
order = order_create(customer=customer, address_id=address.pk, items=items)
subscription_results_record(customer=customer, results={{template.template_id: "accept"}})
print(json.dumps({{"order_id": order.pk, "order_no": order.order_no}}))
"""
# The order is paid: the status service's signal queues the message once the transaction commits.
PAY = """
from orders.models import OrderActor, OrderStatus
from orders.services.status import order_transition
order_transition(order_id={order_id}, to_status=OrderStatus.PAID, actor=OrderActor.PAYMENT)
print("{{}}")
"""
RUN_AGAIN = """
from subscribe_messages.tasks import send_subscribe_message
send_subscribe_message.delay({order_id}, "paid")
send_subscribe_message.apply_async(args=[{order_id}, "paid"], task_id={task_id!r})
print("{{}}")
"""
MESSAGE_SQL = (
    "SELECT status, outcome, attempts, claimed_by FROM subscribe_messages_subscribemessage"
    " WHERE order_id = %s AND event = 'paid'"
)


def test_a_worker_killed_between_wechats_answer_and_our_write_sends_no_second_message(
    deployment, sandbox_server, figures
):
    sandbox = SandboxClient(sandbox_server.url)
    template_id, openid = f"tmpl-paid-{uuid.uuid4().hex[:8]}", f"o-fault-{uuid.uuid4().hex[:20]}"
    sandbox.add_subscribe_template(template_id, ["character_string1", "amount2"])
    sandbox.subscribe(openid, {template_id: "accept"})
    sandbox.subscribe(openid, {template_id: "accept"})  # WeChat would take a second message: only we can stop it
    order = deployment.shell(SETUP.format(template_id=template_id, openid=openid))
    dying = deployment.worker_start(
        app="tests.faults.dying_worker",
        pool="solo",
        DIE_ON_LOG="subscribe_messages.services.sending|WeChat answered ok",
    )

    started = time.monotonic()
    deployment.shell(PAY.format(order_id=order["order_id"]))
    wait_for(lambda: not dying.running(), timeout=60, interval=0.2, what="the worker to die after WeChat's ok")
    assert dying.process.returncode == -signal.SIGKILL
    killed_after = round(time.monotonic() - started, 1)
    [(status, _, _, claimed_by)] = deployment.query(MESSAGE_SQL, order["order_id"])
    assert status == "sending"  # WeChat sent it; our row never heard

    deployment.worker_start()
    deployment.shell(RUN_AGAIN.format(order_id=order["order_id"], task_id=claimed_by))
    [(status, outcome, attempts, _)] = wait_for(
        lambda: rows if (rows := deployment.query(MESSAGE_SQL, order["order_id"]))[0][0] != "sending" else None,
        timeout=60,
        interval=0.3,
        what="the redelivered task to settle the message",
    )
    time.sleep(1)  # the other run, too, has had its turn

    received = sandbox.subscribe_messages(openid)["per_buyer"][openid]
    assert len(received) == 1 and received[0]["data"]["character_string1"] == order["order_no"]
    assert (status, outcome, attempts) == ("unknown", "interrupted", 1)
    figures(
        "worker SIGKILLed after WeChat accepted a subscribe message, before its answer was stored",
        killed_after_seconds_from_payment=killed_after,
        messages_received_by_the_buyer=len(received),
        runs_after_the_kill=2,
        recorded_as=f"{status} ({outcome})",
    )
