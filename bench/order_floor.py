"""The floor under POST /api/v1/orders: what the stack alone costs an order, with none of our code in the way.

Mounted by bench/baseline_urls.py at /bench/order-floor/, so it answers through the same gunicorn,
production settings and middleware as the product's endpoint. A request carries the attempt the
product's request carries (its SKU and address in the body, an Idempotency-Key header); the view
runs the one-statement reference's SQL for it on the thread's Django connection (kept and
health-checked as production keeps it) and answers a small JSON: 201 with the order's id, or 409
when the stock is gone. No token lookup, no validation, no order answer, no cache write: the
product's per-request cost is whatever lies between this floor and it.
"""

import hashlib
import json

import psycopg
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

# An order's writes with no application code: take the stock, then insert the order (address
# copied), its line and its creation event, all in one statement and one round trip. The bench's
# reference runs it from processes of their own (bench/order_contention.py), the floor from a view.
ONE_STATEMENT_ORDER = """
WITH taken AS (
    UPDATE catalog_sku AS sku SET stock = sku.stock - 1
    FROM catalog_product AS product
    WHERE sku.id = %(sku_id)s AND sku.is_active AND sku.stock >= 1
        AND product.id = sku.product_id AND product.is_active
    RETURNING sku.id, sku.price_fen, sku.specs, product.title
), placed AS (
    INSERT INTO orders_order (
        order_no, customer_id, status, total_fen, note, recipient, phone, province, city, district,
        address_detail, source_campaign, idempotency_key, request_digest, created_at, expires_at,
        carrier, tracking_number
    )
    SELECT %(order_no)s, address.customer_id, 'pending_payment', taken.price_fen, '', address.recipient,
        address.phone, address.province, address.city, address.district, address.detail, '',
        %(idempotency_key)s, '', now(), now() + interval '30 minutes', '', ''
    FROM taken, orders_address AS address
    WHERE address.id = %(address_id)s
    RETURNING id
), line AS (
    INSERT INTO orders_orderline (order_id, sku_id, title, specs, image, price_fen, quantity, subtotal_fen)
    SELECT placed.id, taken.id, taken.title, taken.specs, '', taken.price_fen, 1, taken.price_fen
    FROM placed, taken
), event AS (
    INSERT INTO orders_orderevent (order_id, from_status, to_status, actor, reason, at)
    SELECT id, '', 'pending_payment', 'customer', '', now() FROM placed
)
SELECT id FROM placed
"""

# The same writes for the buyer the token names: no buyer, or an address not the buyer's, takes nothing.
AUTHENTICATED_ORDER = ONE_STATEMENT_ORDER.replace(
    "WITH taken AS (",
    """WITH buyer AS (
    SELECT address.id AS address_id FROM customers_customertoken AS token
    JOIN orders_address AS address ON address.customer_id = token.customer_id
    WHERE token.key_digest = %(token_digest)s AND token.expires_at > now() AND address.id = %(address_id)s
), taken AS (""",
).replace(
    "AND product.id = sku.product_id AND product.is_active",
    "AND product.id = sku.product_id AND product.is_active AND EXISTS (SELECT FROM buyer)",
)


@csrf_exempt
@require_POST
def order_floor(request) -> JsonResponse:
    attempt = json.loads(request.body)
    # The order number is the key, as the reference's: both unique, neither read back.
    key = request.headers["Idempotency-Key"]
    answer, status = _placed(ONE_STATEMENT_ORDER, attempt, key)
    return JsonResponse(answer, status=status)


@csrf_exempt
@require_POST
def order_floor_authenticated(request) -> JsonResponse:
    answer, status = authenticated_order(
        json.loads(request.body), request.headers.get("Authorization", ""), request.headers["Idempotency-Key"]
    )
    return JsonResponse(answer, status=status)


def authenticated_order(attempt: dict, authorization: str, key: str) -> tuple[dict, int]:
    token_digest = hashlib.sha256(authorization.removeprefix("Bearer ").encode()).hexdigest()
    return _placed(AUTHENTICATED_ORDER, attempt, key, token_digest=token_digest)


def _placed(statement: str, attempt: dict, key: str, **parameters: str) -> tuple[dict, int]:
    # What Django's cursor() does first: production's health check, and a connection if there is none.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            statement,
            {
                "sku_id": attempt["items"][0]["sku_id"],
                "address_id": attempt["address_id"],
                "order_no": key,
                "idempotency_key": key,
                **parameters,
            },
            prepare=True,
        )
        placed = cursor.fetchone()
    if placed is None:
        return {"code": "insufficient_stock"}, 409
    return {"id": placed[0]}, 201
