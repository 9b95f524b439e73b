"""The second order floor through DRF, for bench/order_contention.py: mounted by bench/baseline_urls.py only.

/api/bench/order-floor-drf runs bench/order_floor.py's authenticated statement from a DRF view with
the API's production settings (its JSON parser and renderer, content negotiation, exception
handler), under /api/ so the API's middleware treats it as the API: what DRF's request handling
adds to the second floor. Kept apart from order_floor.py, which the bench imports before Django is set up.
"""

from rest_framework.response import Response
from rest_framework.views import APIView

from bench.order_floor import authenticated_order


class OrderFloorDrf(APIView):
    # The token is checked by the statement: DRF's authentication would be a second round trip.
    authentication_classes = ()
    permission_classes = ()

    def post(self, request) -> Response:
        answer, status = authenticated_order(
            request.data, request.headers.get("Authorization", ""), request.headers["Idempotency-Key"]
        )
        return Response(answer, status=status)
