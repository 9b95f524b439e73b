import re

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_schema import ERROR_RESPONSES
from config.throttling import AtomicScopedRateThrottle
from customers.services import customer_login

# 小程序 网络 / 使用说明: a Mini Program's requests carry a Referer it cannot set, fixed as
# https://servicewechat.com/{appid}/{version}/page-frame.html (version 0 for development, trial and
# review builds, "devtools" in the developer tools). It names the Mini Program a login comes from;
# forging it gains nothing, as WeChat gives a login code for one app only.
MINI_PROGRAM_REFERER = re.compile(r"https://servicewechat\.com/([A-Za-z0-9_-]{1,32})/[A-Za-z0-9_.-]+/page-frame\.html")


def mini_program_appid(request) -> str | None:
    """The appid of the Mini Program a request comes from, or None (not from one: the settings' single shop)."""
    found = MINI_PROGRAM_REFERER.fullmatch(request.META.get("HTTP_REFERER", ""))
    return found.group(1) if found else None


class CustomerOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    openid = serializers.CharField()
    unionid = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


class LoginApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [AtomicScopedRateThrottle]
    throttle_scope = "login"

    class InputSerializer(serializers.Serializer):
        code = serializers.CharField(max_length=128, help_text="The code from wx.login(); it works once.")

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField(help_text="Send as 'Authorization: Bearer <token>'.")
        expires_at = serializers.DateTimeField()
        customer = CustomerOutputSerializer()

    @extend_schema(
        operation_id="auth_login",
        summary="Log in with a wx.login() code",
        request=InputSerializer,
        responses={200: OutputSerializer, **ERROR_RESPONSES},
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        login = customer_login(code=serializer.validated_data["code"], appid=mini_program_appid(request))
        return Response(self.OutputSerializer(login).data, status=status.HTTP_200_OK)


class MeApi(APIView):
    @extend_schema(
        operation_id="me",
        summary="The logged-in customer",
        responses={200: CustomerOutputSerializer, **ERROR_RESPONSES},
    )
    def get(self, request):
        return Response(CustomerOutputSerializer(request.user).data)
