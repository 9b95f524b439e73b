"""The real URL conf plus views that fail, to see what a client gets when a view has a bug."""

from django.core.exceptions import PermissionDenied
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urlpatterns

LEAKY_DETAIL = "postgres://shop:hunter2@db.internal/shop"


class FailingApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError(f"could not connect to {LEAKY_DETAIL}")


def failing_django_view(request):
    raise RuntimeError(f"could not connect to {LEAKY_DETAIL}")


def forbidding_django_view(request):
    raise PermissionDenied


urlpatterns = [
    path("api/v1/test-failing-api", FailingApi.as_view()),
    path("api/v1/test-failing-view", failing_django_view),
    path("api/v1/test-forbidding-view", forbidding_django_view),
    *project_urlpatterns,
]
