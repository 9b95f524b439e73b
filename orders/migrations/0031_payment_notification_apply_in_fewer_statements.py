"""orders_payment_notification_apply() takes 0028's steps under its rules in fewer statements.

Each statement of a PL/pgSQL function costs its own executor start, snapshot and end, which for a
payment of one line cost more than the rows it writes (as orders 0029 found for order placement).
So now:
- an applied notification's writes (the payment paid, its event, the order paid, its event, the
  stored notification) are one statement with data-modifying CTEs (they were five); any other
  outcome stores the notification alone, as before;
- the sales count updates each of the order's products in id order, one UPDATE per product (an
  order of one product: one), where it locked them first with a SELECT ... FOR UPDATE and then
  updated them: the UPDATE locks the row itself, in the same order, so no two payments deadlock,
  and the separate lock's write (a heap change and a WAL record per product) is gone.
The arguments, the refusals, the outcomes and the answer are 0028's. Measured on one connection,
thousands of calls (/proc stat of the backend): 0.03-0.12 ms less backend CPU per applied payment (about
0.09), of 0.7-0.9.

PostgreSQL only: SQLite keeps the ORM path.
"""

import importlib

from django.db import migrations

_previous = importlib.import_module("orders.migrations.0028_payment_notification_apply_function")
RunSQLOnPostgreSQL = _previous.RunSQLOnPostgreSQL
PREVIOUS_PAYMENT_NOTIFICATION_APPLY = _previous.PAYMENT_NOTIFICATION_APPLY.replace(
    "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1
)

PAYMENT_NOTIFICATION_APPLY = r"""CREATE OR REPLACE FUNCTION orders_payment_notification_apply(
    notified_out_trade_no text,
    notified_transaction_id text,
    notified_total_fee bigint,
    notified_result_code text,
    notified_fee_type text,
    notified_sign_type text,
    notified_appid text,                -- NULL: the notification names no app (any of the merchant's)
    notified_mch_id text,
    notified_raw_body text,
    notified_paid_at timestamptz,
    paid_reason text,                   -- the events' reason, already translated and cut to their length
    payment_currency text,              -- the only currency our amounts are in
    payable_statuses text[]             -- the payment statuses the payment status table lets become paid
) RETURNS jsonb
LANGUAGE plpgsql
-- Every statement here finds rows by key, so one plan fits every call.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    locked_order_id bigint;
    order_status text;
    locked_payment_id bigint;
    payment_status text;
    payment_amount_fen bigint;
    payment_sign_type text;
    payment_appid text;
    payment_mch_id text;
    outcome text;
    product_ids jsonb := '[]';
    sold record;
BEGIN
    SELECT o.id, o.status, p.id, p.status, p.amount_fen, p.sign_type, p.appid, p.mch_id
    INTO locked_order_id, order_status, locked_payment_id, payment_status, payment_amount_fen,
        payment_sign_type, payment_appid, payment_mch_id
    FROM orders_order AS o JOIN orders_payment AS p ON p.order_id = o.id
    WHERE p.out_trade_no = notified_out_trade_no
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('refused', 'unknown_payment');
    END IF;
    -- Signed as the order was, and it may not say how: the sign type we recorded decides.
    IF payment_sign_type <> notified_sign_type THEN
        RETURN jsonb_build_object('refused', 'sign_type');
    END IF;
    IF payment_appid = '' THEN
        RETURN jsonb_build_object('refused', 'made_before_merchants');
    END IF;
    -- Verified with the keys of the merchant it names, which must be the one the payment was made through.
    IF payment_mch_id <> notified_mch_id OR payment_appid <> coalesce(notified_appid, payment_appid) THEN
        RETURN jsonb_build_object('refused', 'made_through');
    END IF;

    IF notified_result_code <> 'SUCCESS' THEN
        outcome := 'not_paid';
    ELSIF notified_fee_type <> payment_currency OR notified_total_fee <> payment_amount_fen THEN
        outcome := 'amount_mismatch';
    ELSIF payment_status = 'paid' THEN
        outcome := 'duplicate';
    ELSIF order_status <> 'pending_payment' OR NOT payment_status = ANY(payable_statuses) THEN
        outcome := 'order_not_payable';
    ELSE
        outcome := 'applied';
    END IF;

    IF outcome = 'applied' THEN
        -- Both status changes, their events and the stored notification: one statement, not five (each
        -- statement of a function costs its own executor start, snapshot and end, more than these rows do).
        WITH payment_paid AS (
            UPDATE orders_payment AS p
            SET status = 'paid', transaction_id = notified_transaction_id, paid_at = notified_paid_at
            WHERE p.id = locked_payment_id
        ), payment_event AS (
            INSERT INTO orders_paymentevent (payment_id, from_status, to_status, actor, staff_user_id, reason, at)
            VALUES (locked_payment_id, payment_status, 'paid', 'payment', NULL, paid_reason, statement_timestamp())
        ), order_paid AS (
            UPDATE orders_order AS o SET status = 'paid', paid_at = statement_timestamp() WHERE o.id = locked_order_id
        ), order_event AS (
            INSERT INTO orders_orderevent (order_id, from_status, to_status, actor, staff_user_id, reason, at)
            VALUES (locked_order_id, order_status, 'paid', 'payment', NULL, paid_reason, statement_timestamp())
        )
        INSERT INTO orders_paymentnotification (
            payment_id, out_trade_no, transaction_id, total_fee, result_code, outcome, raw_body, received_at
        ) VALUES (
            locked_payment_id, notified_out_trade_no, notified_transaction_id, notified_total_fee,
            notified_result_code, outcome, notified_raw_body, statement_timestamp()
        );
        -- Last: the products' rows, updated (so locked) in id order, so no two payments deadlock; they stay
        -- locked only until COMMIT.
        FOR sold IN
            SELECT sku.product_id, sum(line.quantity) AS units
            FROM orders_orderline AS line JOIN catalog_sku AS sku ON sku.id = line.sku_id
            WHERE line.order_id = locked_order_id
            GROUP BY sku.product_id
            ORDER BY sku.product_id
        LOOP
            UPDATE catalog_product AS product SET sales_count = product.sales_count + sold.units
            WHERE product.id = sold.product_id;
            product_ids := product_ids || to_jsonb(sold.product_id);
        END LOOP;
    ELSE
        INSERT INTO orders_paymentnotification (
            payment_id, out_trade_no, transaction_id, total_fee, result_code, outcome, raw_body, received_at
        ) VALUES (
            locked_payment_id, notified_out_trade_no, notified_transaction_id, notified_total_fee,
            notified_result_code, outcome, notified_raw_body, statement_timestamp()
        );
    END IF;

    RETURN jsonb_build_object(
        'outcome', outcome, 'order_id', locked_order_id, 'payment_id', locked_payment_id, 'product_ids', product_ids
    );
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0030_order_place_one_line_in_one_statement"),
    ]

    operations = [
        RunSQLOnPostgreSQL(PAYMENT_NOTIFICATION_APPLY, reverse_sql=PREVIOUS_PAYMENT_NOTIFICATION_APPLY),
    ]
