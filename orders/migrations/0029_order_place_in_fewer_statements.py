"""orders_order_place() takes 0025's steps under 0021's rules in fewer statements.

Each statement of a PL/pgSQL function costs its own executor start, snapshot and end, which for an
order of one line cost more than the rows it reads and writes. So now:
- the address and the lines' snapshot are read by one statement (they were two);
- the order, its lines and its first event are inserted, and the answer built from what they
  returned, by one statement with data-modifying CTEs (they were four);
- the main image's URL is quoted by orders_uri_path_quote() only when its name needs encoding,
  which nearly no name does (the check is inline, not a function call per line);
- the answer is json, not jsonb: the same keys and values, written as text as they are built,
  where jsonb built a tree of them, sorted it, and wrote it out as text again.
The stock is still taken by one conditional UPDATE per SKU in id order, after every check, and a
refusal is still a value returned before anything is written. The arguments and the answer's
content are 0025's; the application reads either type.

PostgreSQL only: SQLite keeps the ORM path.
"""

import importlib

from django.db import migrations

_previous = importlib.import_module("orders.migrations.0025_order_source_page_and_campaign")
RunSQLOnPostgreSQL = _previous.RunSQLOnPostgreSQL
PREVIOUS_ORDER_PLACE = _previous.ORDER_PLACE
SIGNATURE = _previous.ORDER_PLACE_SIGNATURE

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
) RETURNS json                        -- built as text: cheaper to make and to send than jsonb
LANGUAGE plpgsql
-- Every statement here finds rows by key, so one plan fits every call; left to choose, PostgreSQL
-- kept planning the line snapshot afresh on each call, which cost more than running the order.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    -- The address as copied onto the order (a row variable cannot share an INTO list).
    copied_recipient text;
    copied_phone text;
    copied_province text;
    copied_city text;
    copied_district text;
    copied_detail text;
    lines orders_order_place_line[];
    line orders_order_place_line;
    taken integer := 0;
    stock_now integer;
    on_sale boolean;
    answer json;
BEGIN
    -- The buyer's address, and what each line copies, read at one snapshot, lines in SKU id order.
    SELECT a.recipient, a.phone, a.province, a.city, a.district, a.detail, (
        SELECT array_agg(ROW(
            requested.sku_id, requested.quantity, coalesce(s.is_active AND p.is_active, false), s.stock,
            p.id, p.title, s.specs, s.price_fen,
            CASE WHEN coalesce(main_image.image, '') = '' THEN ''
                 -- Nearly every name needs no encoding: the function is called only for the others.
                 WHEN main_image.name ~ '^[A-Za-z0-9_.~!*()''/-]*$' THEN media_url || main_image.name
                 ELSE media_url || orders_uri_path_quote(main_image.name) END
        )::orders_order_place_line ORDER BY requested.position)
        FROM unnest(ordered_sku_ids, ordered_quantities) WITH ORDINALITY AS requested(sku_id, quantity, position)
        LEFT JOIN catalog_sku AS s ON s.id = requested.sku_id
        LEFT JOIN catalog_product AS p ON p.id = s.product_id
        LEFT JOIN LATERAL (
            SELECT i.image, ltrim(i.image, '/') AS name FROM catalog_productimage AS i
            WHERE i.product_id = p.id ORDER BY i.position, i.id LIMIT 1
        ) AS main_image ON true
    )
    INTO copied_recipient, copied_phone, copied_province, copied_city, copied_district, copied_detail, lines
    FROM orders_address AS a WHERE a.id = delivery_address_id AND a.customer_id = buyer_id;
    IF NOT FOUND THEN
        RETURN json_build_object('refused', 'address_required');
    END IF;

    FOREACH line IN ARRAY lines LOOP
        IF NOT line.for_sale THEN
            RETURN json_build_object('refused', 'sku_unavailable', 'sku_id', line.sku_id);
        END IF;
    END LOOP;
    -- Short at the snapshot already: refused before any lock or write (a sold-out SKU's rush).
    FOREACH line IN ARRAY lines LOOP
        IF line.stock < line.quantity THEN
            RETURN json_build_object('refused', 'insufficient_stock',
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
                RETURN json_build_object('refused', 'sku_unavailable', 'sku_id', line.sku_id);
            END IF;
            RETURN json_build_object('refused', 'insufficient_stock',
                'sku_id', line.sku_id, 'title', line.title, 'stock_left', stock_now);
        END IF;
        taken := taken + 1;
    END LOOP;

    -- The order, its lines and its first event in one statement; the answer is what they returned.
    -- statement_timestamp(), not now(): inside a caller's transaction now() is when that began.
    WITH placed AS (
        INSERT INTO orders_order (
            order_no, customer_id, status, total_fen, note, recipient, phone, province, city, district,
            address_detail, source_scene, source_campaign, source_path, campaign_id, idempotency_key, request_digest,
            created_at, expires_at, paid_at, shipped_at, carrier, tracking_number
        )
        SELECT new_order_no, buyer_id, 'pending_payment', sum(l.price_fen::bigint * l.quantity), order_note,
            copied_recipient, copied_phone, copied_province, copied_city, copied_district, copied_detail,
            scene, campaign, page_path,
            -- The code is kept as sent; the campaign is linked when it is one of ours.
            (SELECT c.id FROM campaigns_campaign AS c WHERE c.code = campaign AND campaign <> ''),
            key, digest, statement_timestamp(),
            statement_timestamp() + make_interval(mins => payment_minutes), NULL, NULL, '', ''
        FROM unnest(lines) AS l
        RETURNING *
    ), inserted AS (
        INSERT INTO orders_orderline (order_id, sku_id, title, specs, image, price_fen, quantity, subtotal_fen)
        SELECT placed.id, l.sku_id, l.title, l.specs, l.image, l.price_fen, l.quantity,
            l.price_fen::bigint * l.quantity
        FROM placed, unnest(lines) AS l
        RETURNING *
    ), event AS (
        INSERT INTO orders_orderevent (order_id, from_status, to_status, actor, staff_user_id, reason, at)
        SELECT placed.id, '', 'pending_payment', 'customer', NULL, '', statement_timestamp() FROM placed
        RETURNING *
    )
    SELECT json_build_object(
        'order', to_json(placed),
        'lines', (SELECT json_agg(to_json(inserted) ORDER BY inserted.sku_id) FROM inserted),
        'event', (SELECT to_json(event) FROM event),
        'product_ids', (SELECT json_agg(DISTINCT l.product_id) FROM unnest(lines) AS l)
    )
    INTO answer
    FROM placed;

    IF cardinality(emptied_cart_item_ids) > 0 THEN
        DELETE FROM orders_cartitem AS c WHERE c.customer_id = buyer_id AND c.id = ANY(emptied_cart_item_ids);
    END IF;
    RETURN answer;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0028_payment_notification_apply_function"),
    ]

    operations = [
        # Its result's type changes (json, not jsonb), which CREATE OR REPLACE cannot do.
        RunSQLOnPostgreSQL(
            f"DROP FUNCTION {SIGNATURE};\n{ORDER_PLACE}",
            reverse_sql=f"DROP FUNCTION {SIGNATURE};\n{PREVIOUS_ORDER_PLACE}",
        ),
    ]
