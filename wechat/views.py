"""The callback URL WeChat calls for each Official Account: /wechat/oa/<appid>/."""

import logging

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

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
