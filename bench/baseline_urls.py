"""The app's URLs plus the benches' baseline endpoints; mounted only by bench/settings.py.

/bench/pay-notify-baseline/ reads the body and answers WeChat's SUCCESS, through the same Django
stack, without parsing, verifying or recording anything: the floor of answering a notification.
/bench/pay-notify-floor/ adds one durable write of the notification's id; /bench/pay-notify-floor-paid/ does
what any correct handler must: verify, check the amount, mark the order paid once (bench/pay_notify_floor.py).
/api/bench/login-floor/... are the floors of a login (bench/login_floor.py).
/bench/order-floor/ runs the one-statement reference's order for the request's attempt and answers a
small JSON (bench/order_floor.py): the floor of POST /api/v1/orders; /bench/order-floor-authenticated/
adds the buyer's token checked in the same statement, /api/bench/order-floor-drf the same through DRF.
"""

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from bench.login_floor import login_floor_stores, login_floor_wechat
from bench.order_floor import order_floor, order_floor_authenticated
from bench.order_floor_drf import OrderFloorDrf
from bench.pay_notify_floor import pay_notify_floor, pay_notify_floor_paid
from config.urls import urlpatterns as app_urlpatterns
from wechat.pay.v2 import build_xml

# The bytes the product answers SUCCESS with, built once here so the baseline pays nothing for them.
SUCCESS = build_xml({"return_code": "SUCCESS", "return_msg": "OK"}, cdata=True)


@csrf_exempt
@require_POST
def pay_notify_baseline(request) -> HttpResponse:
    request.body  # noqa: B018 - read it, as the real endpoint does
    return HttpResponse(SUCCESS, content_type="text/xml; charset=utf-8")


urlpatterns = [
    path("bench/pay-notify-baseline/", pay_notify_baseline),
    path("bench/pay-notify-floor/", pay_notify_floor),
    path("bench/pay-notify-floor-paid/", pay_notify_floor_paid),
    path("bench/order-floor/", order_floor),
    path("bench/order-floor-authenticated/", order_floor_authenticated),
    *app_urlpatterns,
]

# The floors of a login (bench/login_floor.py), under /api/ so the API's middleware treats them as the login.
urlpatterns += [
    path("api/bench/login-floor/wechat", login_floor_wechat),
    path("api/bench/login-floor/stores", login_floor_stores),
    path("api/bench/order-floor-drf", OrderFloorDrf.as_view()),
]
