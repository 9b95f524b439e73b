"""wechatpy's and requests' exceptions become ours, classified by what the caller should do."""

import pytest
import requests
from wechatpy.exceptions import APILimitedException, WeChatClientException, WeChatPayException

from wechat.errors import (
    WeChatMisconfigured,
    WeChatPermanentError,
    WeChatQuotaExhausted,
    WeChatRateLimited,
    WeChatTimeout,
    WeChatTransientError,
    error_from_exception,
)


def _response(status: int) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    return response


def _pay_refusal(err_code: str, message: str) -> WeChatPayException:
    """What wechatpy raises for a WeChat Pay answer with result_code FAIL."""
    return WeChatPayException("SUCCESS", "FAIL", "OK", err_code, message, response=_response(200))


@pytest.mark.parametrize(
    "exception, error_class, errcode",
    [
        (WeChatClientException(-1, "system error"), WeChatTransientError, -1),
        (WeChatClientException(45011, "api minute-quota reach limit"), WeChatRateLimited, 45011),
        (APILimitedException(45009, "reach max api daily quota limit"), WeChatQuotaExhausted, 45009),
        (WeChatClientException("40029", "invalid code"), WeChatPermanentError, 40029),
        (WeChatClientException(40125, "invalid appsecret"), WeChatMisconfigured, 40125),
        (WeChatClientException(40013, "invalid appid"), WeChatMisconfigured, 40013),
        (WeChatClientException(40164, "invalid ip 1.2.3.4, not in whitelist"), WeChatMisconfigured, 40164),
        (WeChatClientException(48001, "api unauthorized"), WeChatMisconfigured, 48001),
        (WeChatClientException(41002, "appid missing"), WeChatMisconfigured, 41002),
        (WeChatClientException(41004, "appsecret missing"), WeChatMisconfigured, 41004),
        (_pay_refusal("SYSTEMERROR", "系统超时"), WeChatTransientError, "SYSTEMERROR"),
        (_pay_refusal("BANKERROR", "银行系统异常"), WeChatTransientError, "BANKERROR"),
        (_pay_refusal("FREQUENCY_LIMITED", "频率限制"), WeChatRateLimited, "FREQUENCY_LIMITED"),
        (_pay_refusal("ORDERPAID", "商户订单已支付"), WeChatPermanentError, "ORDERPAID"),
        (_pay_refusal("NOAUTH", "商户无此接口权限"), WeChatMisconfigured, "NOAUTH"),
        (_pay_refusal("SIGNERROR", "签名错误"), WeChatMisconfigured, "SIGNERROR"),
        (WeChatClientException(None, None, response=_response(502)), WeChatTransientError, None),
        (WeChatClientException(None, None, response=_response(404)), WeChatPermanentError, None),
        (WeChatPayException(None, response=_response(503)), WeChatTransientError, None),
        (requests.ReadTimeout("read timed out"), WeChatTimeout, None),
        (requests.ConnectionError("refused"), WeChatTransientError, None),
        (requests.HTTPError(response=_response(500)), WeChatTransientError, None),
    ],
    ids=lambda value: repr(value) if isinstance(value, Exception) else None,
)
def test_each_failure_gets_the_class_of_what_to_do_and_keeps_its_code(exception, error_class, errcode):
    error = error_from_exception(exception)

    assert type(error) is error_class
    assert error.errcode == errcode


def test_a_pay_refusal_keeps_wechat_pays_text_code_and_message():
    error = error_from_exception(_pay_refusal("SYSTEMERROR", "系统超时"))

    assert str(error) == "WeChat error SYSTEMERROR: 系统超时"


def test_a_pay_call_refused_without_an_err_code_is_permanent():
    error = error_from_exception(WeChatPayException("FAIL", None, "appid不存在", response=_response(200)))

    assert type(error) is WeChatPermanentError
    assert error.errcode is None
    assert "appid不存在" in str(error)


def test_busy_is_retried_soon_but_limits_say_how_long_to_wait():
    busy = error_from_exception(WeChatClientException(-1, "system error"))
    per_minute = error_from_exception(WeChatClientException(45011, "api minute-quota reach limit"))
    daily = error_from_exception(WeChatClientException(45009, "reach max api daily quota limit"))

    assert not isinstance(busy, WeChatRateLimited)
    assert per_minute.retry_after == 60
    assert 0 < daily.retry_after <= 24 * 3600  # until midnight, Beijing time


def test_something_that_is_not_a_wechat_failure_is_not_hidden():
    with pytest.raises(TypeError):
        error_from_exception(ValueError("a bug of ours"))
