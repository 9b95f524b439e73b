from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.health import HealthApi

# The product's name in the admin; no "View site" link, since the storefront is the Mini Program.
admin.site.site_header = admin.site.site_title = gettext_lazy("WeChat CMS")
admin.site.index_title = gettext_lazy("Official Account and Mini Program")
admin.site.site_url = None

# Our own admin pages that belong to no model (the revenue report) join the admin's URLs and namespace,
# before them: the admin answers any path it does not know with a 404.
admin_urls, admin_app_name, admin_namespace = admin.site.urls
admin_pages = ([path("", include("staff_home.urls")), *admin_urls], admin_app_name)

api_v1 = [
    path("health", HealthApi.as_view(), name="health"),
    path("", include("customers.urls")),
    path("catalog/", include("catalog.urls")),
    path("", include("orders.urls")),
    path("", include("subscribe_messages.urls")),
]

urlpatterns = [
    # Before the admin's own URLs, which would answer any other admin/ path with a 404.
    path("admin/", include("staff.urls")),
    path("admin/", include(admin_pages, namespace=admin_namespace)),
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("wechat/", include("wechat.urls")),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
] + static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
