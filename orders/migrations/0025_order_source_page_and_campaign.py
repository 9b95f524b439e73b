"""Orders record the page their source names and the campaign its code is, when the code is ours.

orders_order_place() (0021) writes the order row, so it is replaced here by one that takes the page
and links the campaign in the same statement; its steps and rules are otherwise 0021's, unchanged.
SQLite places orders through the ORM (orders/services/placement.py), which does the same.
"""

import importlib

import django.db.models.deletion
from django.db import migrations, models

# The function as 0021 made it, to put back when this migration is reversed.
_previous = importlib.import_module("orders.migrations.0021_order_place_function")
RunSQLOnPostgreSQL = _previous.RunSQLOnPostgreSQL
PREVIOUS_ORDER_PLACE = _previous.ORDER_PLACE
PREVIOUS_SIGNATURE = _previous.ORDER_PLACE_SIGNATURE

ORDER_PLACE = r"""
CREATE FUNCTION orders_order_place(
    buyer_id bigint,
    delivery_address_id bigint,
    ordered_sku_ids bigint[],          -- distinct, ascending
    ordered_quantities integer[],      -- ordered_quantities[i] of ordered_sku_ids[i]
    emptied_cart_item_ids bigint[],    -- the buyer's cart lines this order empties
    new_order_no text,
    order_note text,
    scene integer,
    campaign text,
    page_path text,
    key text,
    digest text,
    payment_minutes integer,
    media_url text                     -- the storage's URL of its root, e.g. /media/
) RETURNS jsonb
LANGUAGE plpgsql
-- Every statement here finds rows by key, so one plan fits every call; left to choose, PostgreSQL
-- kept planning the line snapshot afresh on each call, which cost more than running the order.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    address orders_address%ROWTYPE;
    lines orders_order_place_line[];
    line orders_order_place_line;
    taken integer := 0;
    stock_now integer;
    on_sale boolean;
    placed orders_order%ROWTYPE;
    placed_lines jsonb;
    event orders_orderevent%ROWTYPE;
BEGIN
    SELECT * INTO address FROM orders_address AS a WHERE a.id = delivery_address_id AND a.customer_id = buyer_id;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('refused', 'address_required');
    END IF;

    -- What each line copies, read once at this statement's snapshot, in SKU id order.
    SELECT array_agg(ROW(
        requested.sku_id, requested.quantity, coalesce(s.is_active AND p.is_active, false), s.stock,
        p.id, p.title, s.specs, s.price_fen,
        CASE WHEN coalesce(main_image.image, '') = '' THEN ''
             ELSE media_url || orders_uri_path_quote(ltrim(main_image.image, '/')) END
    )::orders_order_place_line ORDER BY requested.position)
    INTO lines
    FROM unnest(ordered_sku_ids, ordered_quantities) WITH ORDINALITY AS requested(sku_id, quantity, position)
    LEFT JOIN catalog_sku AS s ON s.id = requested.sku_id
    LEFT JOIN catalog_product AS p ON p.id = s.product_id
    LEFT JOIN LATERAL (
        SELECT i.image FROM catalog_productimage AS i WHERE i.product_id = p.id ORDER BY i.position, i.id LIMIT 1
    ) AS main_image ON true;

    FOREACH line IN ARRAY lines LOOP
        IF NOT line.for_sale THEN
            RETURN jsonb_build_object('refused', 'sku_unavailable', 'sku_id', line.sku_id);
        END IF;
    END LOOP;
    -- Short at the snapshot already: refused before any lock or write (a sold-out SKU's rush).
    FOREACH line IN ARRAY lines LOOP
        IF line.stock < line.quantity THEN
            RETURN jsonb_build_object('refused', 'insufficient_stock',
                'sku_id', line.sku_id, 'title', line.title, 'stock_left', line.stock);
        END IF;
    END LOOP;

    -- One conditional UPDATE per SKU in id order: its row lock is the only lock taken.
    FOREACH line IN ARRAY lines LOOP
        UPDATE catalog_sku AS s SET stock = s.stock - line.quantity
        WHERE s.id = line.sku_id AND s.is_active AND s.stock >= line.quantity;
        IF NOT FOUND THEN
            UPDATE catalog_sku AS s SET stock = s.stock + given_back.quantity
            FROM unnest(lines[1:taken]) AS given_back
            WHERE s.id = given_back.sku_id;
            SELECT s.stock, s.is_active INTO stock_now, on_sale FROM catalog_sku AS s WHERE s.id = line.sku_id;
            IF NOT coalesce(on_sale, false) THEN
                RETURN jsonb_build_object('refused', 'sku_unavailable', 'sku_id', line.sku_id);
            END IF;
            RETURN jsonb_build_object('refused', 'insufficient_stock',
                'sku_id', line.sku_id, 'title', line.title, 'stock_left', stock_now);
        END IF;
        taken := taken + 1;
    END LOOP;

    INSERT INTO orders_order (
        order_no, customer_id, status, total_fen, note, recipient, phone, province, city, district,
        address_detail, source_scene, source_campaign, source_path, campaign_id, idempotency_key, request_digest,
        created_at, expires_at, paid_at, shipped_at, carrier, tracking_number
    )
    -- statement_timestamp(), not now(): inside a caller's transaction now() is when that began.
    SELECT new_order_no, buyer_id, 'pending_payment', sum(l.price_fen::bigint * l.quantity), order_note,
        address.recipient, address.phone, address.province, address.city, address.district, address.detail,
        scene, campaign, page_path,
        -- The code is kept as sent; the campaign is linked when it is one of ours.
        (SELECT c.id FROM campaigns_campaign AS c WHERE c.code = campaign AND campaign <> ''),
        key, digest, statement_timestamp(),
        statement_timestamp() + make_interval(mins => payment_minutes), NULL, NULL, '', ''
    FROM unnest(lines) AS l
    RETURNING * INTO placed;

    WITH inserted AS (
        INSERT INTO orders_orderline (order_id, sku_id, title, specs, image, price_fen, quantity, subtotal_fen)
        SELECT placed.id, l.sku_id, l.title, l.specs, l.image, l.price_fen, l.quantity, l.price_fen::bigint * l.quantity
        FROM unnest(lines) AS l
        RETURNING *
    )
    SELECT jsonb_agg(to_jsonb(inserted) ORDER BY inserted.sku_id) INTO placed_lines FROM inserted;

    INSERT INTO orders_orderevent (order_id, from_status, to_status, actor, staff_user_id, reason, at)
    VALUES (placed.id, '', 'pending_payment', 'customer', NULL, '', statement_timestamp())
    RETURNING * INTO event;

    IF cardinality(emptied_cart_item_ids) > 0 THEN
        DELETE FROM orders_cartitem AS c WHERE c.customer_id = buyer_id AND c.id = ANY(emptied_cart_item_ids);
    END IF;

    RETURN jsonb_build_object(
        'order', to_jsonb(placed),
        'lines', placed_lines,
        'event', to_jsonb(event),
        'product_ids', (SELECT jsonb_agg(DISTINCT l.product_id) FROM unnest(lines) AS l)
    );
END
$$;
"""

ORDER_PLACE_SIGNATURE = (
    "orders_order_place(bigint, bigint, bigint[], integer[], bigint[], text, text, integer, text, text, text, text,"
    " integer, text)"
)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0002_marketing_manages_campaigns_and_codes"),
        ("customers", "0008_customer_first_campaign"),
        ("orders", "0024_shipped_orders_by_time"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="campaign",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="orders",
                to="campaigns.campaign",
                verbose_name="campaign",
            ),
        ),
        migrations.AddField(
            model_name="order",
            name="source_path",
            field=models.CharField(blank=True, db_default="", default="", max_length=256, verbose_name="source page"),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                condition=models.Q(("campaign__isnull", False)), fields=["campaign"], name="orders_order_by_campaign"
            ),
        ),
        RunSQLOnPostgreSQL(
            f"DROP FUNCTION {PREVIOUS_SIGNATURE};\n{ORDER_PLACE}",
            reverse_sql=f"DROP FUNCTION {ORDER_PLACE_SIGNATURE};\n{PREVIOUS_ORDER_PLACE}",
        ),
    ]
