"""orders_payment_notification_apply(): a verified payment notification applied inside PostgreSQL in one call.

The ORM path (orders/services/payments.py, payment_notification_receive) costs a round trip per
step and most of a notification's CPU in Django building them; this function takes the same steps
under the same rules inside the database, so a notification is one statement from the application:
- the order and its payment are read and locked in one statement, the order's row first (FROM the
  order, joined to the payment: the order every payment path locks them in);
- a notification we cannot place (no such payment, signed otherwise than the payment was, made
  through another app or merchant) comes back refused, nothing written, nothing stored;
- otherwise the outcome is decided as on the ORM path: not paid; another currency or amount
  (checked first: a signed message naming another amount is flagged even once we are paid); a
  duplicate; an order or payment that can no longer become paid; or applied;
- applied: the payment paid with WeChat's transaction id and time, the order paid, each change with
  its event row; the notification is stored whatever its outcome; then the order's units are added
  to their products' sales counts, last, the products locked in id order, so the product rows every
  payment of a product updates stay locked only until COMMIT.
A refusal comes back as a value ({"refused": code}), not an error. Payments made before merchants
were rows (no appid) are refused as "made_before_merchants" before anything is written: the ORM
path decides those with the settings' Mini Program.

PostgreSQL only: SQLite keeps the ORM path.
"""

from django.db import migrations


class RunSQLOnPostgreSQL(migrations.RunSQL):
    """RunSQL that does nothing on other databases (SQLite applies notifications through the ORM)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


PAYMENT_NOTIFICATION_APPLY = r"""
CREATE FUNCTION orders_payment_notification_apply(
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
        UPDATE orders_payment AS p
        SET status = 'paid', transaction_id = notified_transaction_id, paid_at = notified_paid_at
        WHERE p.id = locked_payment_id;
        INSERT INTO orders_paymentevent (payment_id, from_status, to_status, actor, staff_user_id, reason, at)
        VALUES (locked_payment_id, payment_status, 'paid', 'payment', NULL, paid_reason, statement_timestamp());
        UPDATE orders_order AS o SET status = 'paid', paid_at = statement_timestamp() WHERE o.id = locked_order_id;
        INSERT INTO orders_orderevent (order_id, from_status, to_status, actor, staff_user_id, reason, at)
        VALUES (locked_order_id, order_status, 'paid', 'payment', NULL, paid_reason, statement_timestamp());
    END IF;

    INSERT INTO orders_paymentnotification (
        payment_id, out_trade_no, transaction_id, total_fee, result_code, outcome, raw_body, received_at
    ) VALUES (
        locked_payment_id, notified_out_trade_no, notified_transaction_id, notified_total_fee,
        notified_result_code, outcome, notified_raw_body, statement_timestamp()
    );

    IF outcome = 'applied' THEN
        -- Last: the products' rows, locked in id order (no two payments deadlock), stay locked only until COMMIT.
        WITH sold AS (
            SELECT sku.product_id, sum(line.quantity) AS units
            FROM orders_orderline AS line JOIN catalog_sku AS sku ON sku.id = line.sku_id
            WHERE line.order_id = locked_order_id
            GROUP BY sku.product_id
        ), locked AS (
            SELECT product.id FROM catalog_product AS product
            WHERE product.id IN (SELECT sold.product_id FROM sold)
            ORDER BY product.id
            FOR UPDATE
        ), counted AS (
            UPDATE catalog_product AS product SET sales_count = product.sales_count + sold.units
            FROM sold, locked
            WHERE product.id = sold.product_id AND locked.id = sold.product_id
            RETURNING product.id
        )
        SELECT coalesce(jsonb_agg(counted.id), '[]') INTO product_ids FROM counted;
    END IF;

    RETURN jsonb_build_object(
        'outcome', outcome, 'order_id', locked_order_id, 'payment_id', locked_payment_id, 'product_ids', product_ids
    );
END
$$;
"""

PAYMENT_NOTIFICATION_APPLY_SIGNATURE = (
    "orders_payment_notification_apply(text, text, bigint, text, text, text, text, text, text, timestamptz, text,"
    " text, text[])"
)


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0007_verbose_names_translated"),
        ("orders", "0027_paid_orders_by_source"),
    ]

    operations = [
        RunSQLOnPostgreSQL(
            PAYMENT_NOTIFICATION_APPLY, reverse_sql=f"DROP FUNCTION {PAYMENT_NOTIFICATION_APPLY_SIGNATURE};"
        ),
    ]
