from django.urls import path

from wechat.views import official_account_callback

app_name = "wechat"
urlpatterns = [
    path("oa/<str:appid>/", official_account_callback, name="official-account-callback"),
]
