"""The callback URL WeChat calls for each Official Account: /wechat/oa/<appid>/."""

import logging

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from wechat.miniprogram_push import mini_program_push_config, mini_program_push_receive
from wechat.models import OfficialAccount
from wechat.official_account_inbox import PushRefused, push_receive, url_verify

logger = logging.getLogger(__name__)


@csrf_exempt  # WeChat signs its requests; it has no CSRF token
@require_http_methods(["GET", "POST"])
def official_account_callback(request: HttpRequest, appid: str) -> HttpResponse:
    account = OfficialAccount.objects.filter(appid=appid).first()
    if account is None:
        raise Http404("no such Official Account")
    query = request.GET.dict()
    try:
        if request.method == "GET":
            return HttpResponse(url_verify(account=account, query=query), content_type="text/plain")
        push_receive(account=account, query=query, body=request.body)
    except PushRefused as refusal:
        logger.warning("refused a push to Official Account %s: %s", appid, refusal)
        return HttpResponse(str(refusal), status=refusal.http_status, content_type="text/plain")
    # 接收事件推送: "success" (or an empty body) tells WeChat no reply is coming and stops its retries.
    return HttpResponse("success", content_type="text/plain")


@csrf_exempt  # WeChat signs its requests; it has no CSRF token
@require_http_methods(["GET", "POST"])
def mini_program_push(request: HttpRequest, appid: str) -> HttpResponse:
    """The Mini Program's message push URL (消息推送): GET to verify it, POST for events."""
    config = mini_program_push_config(appid)
    if config is None:
        raise Http404("no message push set up for this Mini Program")
    query = request.GET.dict()
    try:
        if request.method == "GET":
            return HttpResponse(url_verify(account=config, query=query), content_type="text/plain")
        mini_program_push_receive(config=config, query=query, body=request.body)
    except PushRefused as refusal:
        logger.warning("refused a push to Mini Program %s: %s", appid, refusal)
        return HttpResponse(str(refusal), status=refusal.http_status, content_type="text/plain")
    return HttpResponse("success", content_type="text/plain")
