import re

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.sources import SourceInputSerializer
from config.api_input import validated_input
from config.api_negotiation import JsonFirstContentNegotiation
from config.api_schema import ERROR_RESPONSES
from config.throttling import AtomicScopedRateThrottle
from customers.services import customer_login, customer_profile_update, customer_token_revoke

# 小程序 网络 / 使用说明: a Mini Program's requests carry a Referer it cannot set, fixed as
# https://servicewechat.com/{appid}/{version}/page-frame.html (version 0 for development, trial and
# review builds, "devtools" in the developer tools). It names the Mini Program a login comes from;
# forging it gains nothing, as WeChat gives a login code for one app only.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
MINI_PROGRAM_REFERER = re.compile(r"https://servicewechat\.com/([A-Za-z0-9_-]{1,32})/[A-Za-z0-9_.-]+/page-frame\.html")


def mini_program_appid(request) -> str | None:
    """The appid of the Mini Program a request comes from, or None (not from one: the settings' single shop)."""
    found = MINI_PROGRAM_REFERER.fullmatch(request.META.get("HTTP_REFERER", ""))
    return found.group(1) if found else None


class CustomerOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    openid = serializers.CharField()
    unionid = serializers.CharField(allow_blank=True)
    nickname = serializers.CharField(allow_blank=True, help_text="As the customer chose it; empty until sent.")
    avatar_url = serializers.CharField(allow_blank=True, help_text="An https URL; empty until sent.")
    created_at = serializers.DateTimeField()


# A field instance for plain values: its to_representation reads no parent or context.
_DATETIME = serializers.DateTimeField()


def login_answer(login) -> dict:
    """LoginApi.OutputSerializer's answer for `login`, built without instantiating the serializer.

    DRF deep-copies the declared fields of a serializer and of its nested customer serializer for
    each instance, a good part of the CPU a login spends in our code. The serializer stays the
    contract (the schema is made from it); tests/customers/test_login_answer.py holds this equal to it.
    """
    customer = login.customer
    return {
        "token": login.token,
        "expires_at": _DATETIME.to_representation(login.expires_at),
        "customer": {
            "id": customer.id,
            "openid": customer.openid,
            "unionid": customer.unionid,
            "nickname": customer.nickname,
            "avatar_url": customer.avatar_url,
            "created_at": _DATETIME.to_representation(customer.created_at),
        },
    }


class LoginApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [AtomicScopedRateThrottle]
    throttle_scope = "login"
    # Every Mini Program logs in, and a login should cost little more than WeChat's own round trip
    # (docs/benchmarks.md): the Accept headers clients send are answered without parsing them.
    content_negotiation_class = JsonFirstContentNegotiation

    class InputSerializer(serializers.Serializer):
        code = serializers.CharField(max_length=128, help_text="The code from wx.login(); it works once.")
        source = SourceInputSerializer(
            required=False,
            help_text="Where the Mini Program was opened from; a customer keeps the first campaign they log in with.",
        )

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
        data = validated_input(self.InputSerializer, request.data)
        login = customer_login(code=data["code"], appid=mini_program_appid(request), source=data.get("source"))
        return Response(login_answer(login), status=status.HTTP_200_OK)


def _no_control_characters(value: str) -> str:
    if CONTROL_CHARACTERS.search(value):
        raise serializers.ValidationError(_("Line breaks and control characters are not allowed."))
    return value


class MeApi(APIView):
    class ProfileInputSerializer(serializers.Serializer):
        # 头像昵称填写能力: the Mini Program gets the nickname from <input type="nickname"> and the avatar
        # from <button open-type="chooseAvatar"> as a temporary local file, which it uploads to its own
        # storage; what reaches us is that upload's https URL. Either may be sent alone.
        nickname = serializers.CharField(
            required=False, max_length=64, allow_blank=True, trim_whitespace=True, validators=[_no_control_characters]
        )
        avatar_url = serializers.URLField(required=False, max_length=500, allow_blank=True)

        def validate_avatar_url(self, value: str) -> str:
            if value and not value.lower().startswith("https://"):
                raise serializers.ValidationError(_("The avatar must be an https:// URL."))
            return value

    @extend_schema(
        operation_id="me",
        summary="The logged-in customer",
        responses={200: CustomerOutputSerializer, **ERROR_RESPONSES},
    )
    def get(self, request):
        return Response(CustomerOutputSerializer(request.user).data)

    @extend_schema(
        operation_id="me_update",
        summary="Set the nickname and avatar the customer chose",
        request=ProfileInputSerializer,
        responses={200: CustomerOutputSerializer, **ERROR_RESPONSES},
    )
    def patch(self, request):
        serializer = self.ProfileInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        customer = customer_profile_update(customer=request.user, changes=serializer.validated_data)
        return Response(CustomerOutputSerializer(customer).data)


class LogoutApi(APIView):
    """An addition to /api/v1 (nothing existing changes): the Mini Program logs out, and its token stops working."""

    @extend_schema(
        operation_id="auth_logout",
        summary="Log out: revoke the token this request presents",
        request=None,
        responses={204: None, **ERROR_RESPONSES},
    )
    def post(self, request):
        customer_token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)
