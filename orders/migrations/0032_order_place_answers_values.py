"""orders_order_place() answers only what the database decided: no whole rows.

0029's and 0030's answer was the order, its lines and its event as whole rows (to_json), which
the application decoded and turned into models. Most of those values are the request's own (the
order number, the buyer, the note, the source, the key, the digest, the quantities) or fixed by
the function (the status, the event's fields). Now the answer holds the rest only, as arrays of
values: the order's id, total, copied address, campaign and times; each line's id, SKU, title,
specs, image and price; the event's id; the products. orders/services/placement_in_database.py
builds the same models from them and the request. Writing out and decoding the whole rows cost
more than the values the application did not already have (docs/benchmarks.md, order_contention).
Every step, check, lock and refusal is 0030's; the arguments and the result type too.

PostgreSQL only: SQLite keeps the ORM path.
"""

import importlib

from django.db import migrations

_previous = importlib.import_module("orders.migrations.0030_order_place_one_line_in_one_statement")
RunSQLOnPostgreSQL = _previous.RunSQLOnPostgreSQL
PREVIOUS_ORDER_PLACE = _previous.ORDER_PLACE

ORDER_PLACE = r"""CREATE OR REPLACE FUNCTION orders_order_place(
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
    -- One line (nearly every order): the stock, the order, its line and event in one statement, taken
    -- only when the buyer's address is theirs and the SKU is for sale with enough stock. No row means
    -- one of these failed: the steps below then find which, and refuse (or place it, if the stock
    -- came back in between), as they do for every order of several lines.
    IF cardinality(ordered_sku_ids) = 1 THEN
        WITH taken AS (
            UPDATE catalog_sku AS s SET stock = s.stock - ordered_quantities[1]
            FROM catalog_product AS p, orders_address AS a
            WHERE s.id = ordered_sku_ids[1] AND s.is_active AND s.stock >= ordered_quantities[1]
                AND p.id = s.product_id AND p.is_active
                AND a.id = delivery_address_id AND a.customer_id = buyer_id
            RETURNING s.id AS sku_id, s.price_fen, s.specs, p.id AS product_id, p.title,
                a.recipient, a.phone, a.province, a.city, a.district, a.detail
        ), placed AS (
            INSERT INTO orders_order (
                order_no, customer_id, status, total_fen, note, recipient, phone, province, city, district,
                address_detail, source_scene, source_campaign, source_path, campaign_id, idempotency_key, request_digest,
                created_at, expires_at, paid_at, shipped_at, carrier, tracking_number
            )
            SELECT new_order_no, buyer_id, 'pending_payment', t.price_fen::bigint * ordered_quantities[1], order_note,
                t.recipient, t.phone, t.province, t.city, t.district, t.detail, scene, campaign, page_path,
                (SELECT c.id FROM campaigns_campaign AS c WHERE c.code = campaign AND campaign <> ''),
                key, digest, statement_timestamp(),
                statement_timestamp() + make_interval(mins => payment_minutes), NULL, NULL, '', ''
            FROM taken AS t
            RETURNING id, total_fen, recipient, phone, province, city, district, address_detail, campaign_id,
                created_at, expires_at
        ), inserted AS (
            INSERT INTO orders_orderline (order_id, sku_id, title, specs, image, price_fen, quantity, subtotal_fen)
            SELECT placed.id, t.sku_id, t.title, t.specs,
                CASE WHEN coalesce(main_image.image, '') = '' THEN ''
                     WHEN main_image.name ~ '^[A-Za-z0-9_.~!*()''/-]*$' THEN media_url || main_image.name
                     ELSE media_url || orders_uri_path_quote(main_image.name) END,
                t.price_fen, ordered_quantities[1], t.price_fen::bigint * ordered_quantities[1]
            FROM placed, taken AS t
            LEFT JOIN LATERAL (
                SELECT i.image, ltrim(i.image, '/') AS name FROM catalog_productimage AS i
                WHERE i.product_id = t.product_id ORDER BY i.position, i.id LIMIT 1
            ) AS main_image ON true
            RETURNING id, sku_id, title, specs, image, price_fen
        ), event AS (
            INSERT INTO orders_orderevent (order_id, from_status, to_status, actor, staff_user_id, reason, at)
            SELECT placed.id, '', 'pending_payment', 'customer', NULL, '', statement_timestamp() FROM placed
            RETURNING id
        )
        SELECT json_build_object(
            'order', json_build_array(placed.id, placed.total_fen, placed.recipient, placed.phone, placed.province,
                placed.city, placed.district, placed.address_detail, placed.campaign_id, placed.created_at,
                placed.expires_at),
            'lines', json_build_array(json_build_array(
                inserted.id, inserted.sku_id, inserted.title, inserted.specs, inserted.image, inserted.price_fen)),
            'event', event.id, 'product_ids', json_build_array(t.product_id)
        )
        INTO answer
        FROM placed, inserted, event, taken AS t;
        IF answer IS NOT NULL THEN
            IF cardinality(emptied_cart_item_ids) > 0 THEN
                DELETE FROM orders_cartitem AS c WHERE c.customer_id = buyer_id AND c.id = ANY(emptied_cart_item_ids);
            END IF;
            RETURN answer;
        END IF;
    END IF;

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
        RETURNING id, total_fen, recipient, phone, province, city, district, address_detail, campaign_id,
            created_at, expires_at
    ), inserted AS (
        INSERT INTO orders_orderline (order_id, sku_id, title, specs, image, price_fen, quantity, subtotal_fen)
        SELECT placed.id, l.sku_id, l.title, l.specs, l.image, l.price_fen, l.quantity,
            l.price_fen::bigint * l.quantity
        FROM placed, unnest(lines) AS l
        RETURNING id, sku_id, title, specs, image, price_fen
    ), event AS (
        INSERT INTO orders_orderevent (order_id, from_status, to_status, actor, staff_user_id, reason, at)
        SELECT placed.id, '', 'pending_payment', 'customer', NULL, '', statement_timestamp() FROM placed
        RETURNING id
    )
    SELECT json_build_object(
        'order', json_build_array(placed.id, placed.total_fen, placed.recipient, placed.phone, placed.province,
            placed.city, placed.district, placed.address_detail, placed.campaign_id, placed.created_at,
            placed.expires_at),
        'lines', (
            SELECT json_agg(json_build_array(i.id, i.sku_id, i.title, i.specs, i.image, i.price_fen) ORDER BY i.sku_id)
            FROM inserted AS i
        ),
        'event', (SELECT event.id FROM event),
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
        ("orders", "0031_payment_notification_apply_in_fewer_statements"),
    ]

    operations = [
        # The same arguments and result type: replaced in place.
        RunSQLOnPostgreSQL(ORDER_PLACE, reverse_sql=PREVIOUS_ORDER_PLACE),
    ]
