from django.urls import include, path

from wechat.views import official_account_callback

# The Official Account's callback is reversed as "wechat:official-account-callback"; WeChat Pay's
# notify URLs keep their global names ("wechat-pay-notify"), so the namespace covers only the former.
official_account_urlpatterns = (
    [path("oa/<str:appid>/", official_account_callback, name="official-account-callback")],
    "wechat",
)
urlpatterns = [
    path("", include(official_account_urlpatterns)),
    path("pay/", include("wechat.pay.urls")),
]
