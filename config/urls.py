from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.health import HealthApi
from orders.pay_callbacks import payment_notify
from orders.refund_callbacks import refund_notify

# The product's name in the admin; no "View site" link, since the storefront is the Mini Program.
admin.site.site_header = admin.site.site_title = "WeChat CMS"
admin.site.index_title = "Official Account and Mini Program"
admin.site.site_url = None

api_v1 = [
    path("health", HealthApi.as_view(), name="health"),
    path("", include("customers.urls")),
    path("catalog/", include("catalog.urls")),
    path("", include("orders.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # WeChat Pay's notify_url (wechat/ knows no orders, so the orders app answers it).
    path("wechat/pay/notify/", payment_notify, name="wechat-pay-notify"),
    # WeChat Pay's refund notifications; orders/ handles them (wechat/ knows nothing of orders).
    path("wechat/pay/refund-notify/", refund_notify, name="wechat-pay-refund-notify"),
    path("wechat/", include("wechat.urls")),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
] + static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
