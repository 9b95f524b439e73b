import re

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_schema import ERROR_RESPONSES, ErrorSerializer
from subscribe_messages.models import SubscriptionResult
from subscribe_messages.services.acceptances import subscription_results_record

# wx.requestSubscribeMessage takes at most 3 template ids a call (its tmplIds parameter).
MAX_TEMPLATES_PER_REPORT = 3
MAX_TEMPLATE_ID_LENGTH = 64
# The shape of the MP console's template ids (e.g. zun-LzcQyW-edafCVvzPkK4de2Rllr1fFpw2A_x0oXE); anything
# else is no template of ours, and is refused before it reaches the database (which refuses some characters).
TEMPLATE_ID_SHAPE = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_TEMPLATE_ID_LENGTH}}}")


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "string", "enum": SubscriptionResult.values},
        "minProperties": 1,
        "maxProperties": MAX_TEMPLATES_PER_REPORT,
    }
)
class SubscriptionResultsField(serializers.DictField):
    """Template id → wx.requestSubscribeMessage's answer for it; at most 3, as one call of it takes."""


class SubscriptionsApi(APIView):
    class InputSerializer(serializers.Serializer):
        results = SubscriptionResultsField(
            child=serializers.ChoiceField(choices=SubscriptionResult.values),
            allow_empty=False,
            help_text=(
                "wx.requestSubscribeMessage's success result without errMsg: template id → "
                '"accept", "reject", "ban" or "filter". Each "accept" allows one message of that template.'
            ),
        )

        def validate_results(self, results: dict) -> dict:
            if len(results) > MAX_TEMPLATES_PER_REPORT:
                raise serializers.ValidationError(
                    _("Report at most %(count)d templates at a time, as wx.requestSubscribeMessage asks.")
                    % {"count": MAX_TEMPLATES_PER_REPORT}
                )
            if not all(TEMPLATE_ID_SHAPE.fullmatch(template_id) for template_id in results):
                raise serializers.ValidationError(
                    _("A template ID is 1 to %(count)d letters, digits, “-” or “_”.")
                    % {"count": MAX_TEMPLATE_ID_LENGTH}
                )
            return results

    class OutputSerializer(serializers.Serializer):
        class AcceptanceSerializer(serializers.Serializer):
            template_id = serializers.CharField(source="template.template_id")
            event = serializers.CharField(source="template.event", help_text="paid, shipped or refunded.")
            messages_allowed = serializers.IntegerField(source="available")
            last_result = serializers.CharField()

        acceptances = AcceptanceSerializer(many=True)

    @extend_schema(
        operation_id="subscriptions_record",
        summary="Report what the buyer chose in wx.requestSubscribeMessage",
        description=(
            "Send the success result of wx.requestSubscribeMessage (one call takes up to 3 template ids). "
            "Each accept allows one subscribe message of that template: the order's paid, shipped or "
            "refunded message is sent only while one is left. Ask before wx.requestPayment (it needs a tap), "
            "so the acceptance is here before the payment notification."
        ),
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            **ERROR_RESPONSES,
            400: OpenApiResponse(
                ErrorSerializer, description="Invalid body, or unknown_subscribe_template (fields.results names them)"
            ),
        },
        examples=[
            OpenApiExample(
                "Accepted the shipping notice, rejected the refund notice",
                value={"results": {"Xq4-shipping-template-id": "accept", "Xq4-refund-template-id": "reject"}},
                request_only=True,
            )
        ],
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        acceptances = subscription_results_record(customer=request.user, results=serializer.validated_data["results"])
        return Response(self.OutputSerializer({"acceptances": acceptances}).data, status=status.HTTP_201_CREATED)
