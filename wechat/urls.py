from django.urls import include, path

from wechat.views import mini_program_push, official_account_callback

# The Official Account's callback is reversed as "wechat:official-account-callback"; WeChat Pay's
# notify URLs keep their global names ("wechat-pay-notify"), so the namespace covers only the former.
official_account_urlpatterns = (
    [
        path("oa/<str:appid>/", official_account_callback, name="official-account-callback"),
        path("mp/<str:appid>/", mini_program_push, name="mini-program-push"),
    ],
    "wechat",
)
urlpatterns = [
    path("", include(official_account_urlpatterns)),
    path("pay/", include("wechat.pay.urls")),
]
