"""orders_order_place(): a whole order placed inside PostgreSQL in one call, for order_create.

The ORM path (orders/services/placement.py) costs a round trip per step; this function takes the
same steps under the same rules inside the database, so placing or refusing an order is one
statement from the application. The rules, step by step, are the ORM path's:
- the address must be the customer's own;
- each SKU (in id order) must exist, be on sale and its product on shelf;
- stock is taken by conditional UPDATEs in SKU id order (two multi-line orders never wait on
  each other in a cycle, and a restore takes them in the same order), so it never goes below zero;
- the order copies the address; each line the product's title, the SKU's specs and price, and the
  URL of the product's main image; the order's first event says the customer placed it;
- ordered cart lines leave the cart.
A refusal comes back as a value ({"refused": code, ...}), not an error, so a sold-out SKU under a
rush fills no server log: it is refused at the statement's snapshot before any lock or write, and
a line found short under its lock gives back what earlier lines took (their rows are still locked
by us, so the count is exact) before anything is inserted. A repeated Idempotency-Key fails on the
unique index, as on the ORM path, and the statement rolls back whole.

PostgreSQL only: SQLite keeps the ORM path.
"""

from django.db import migrations


class RunSQLOnPostgreSQL(migrations.RunSQL):
    """RunSQL that does nothing on other databases (SQLite places orders through the ORM)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


# Django's FileSystemStorage.url() runs the name through filepath_to_uri(): UTF-8 bytes outside
# Python's always-safe characters and "/~!*()'" percent-encoded in uppercase hex, "\" made "/".
URI_PATH_QUOTE = r"""
CREATE FUNCTION orders_uri_path_quote(path text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    slashed text := replace(path, '\', '/');
BEGIN
    -- PL/pgSQL, not SQL: its statements are planned once a session, not once a call.
    IF slashed ~ '^[A-Za-z0-9_.~!*()''/-]*$' THEN
        RETURN slashed;  -- nearly every name: nothing to encode
    END IF;
    RETURN (
        SELECT coalesce(string_agg(
            CASE WHEN byte < 128 AND chr(byte) ~ '[A-Za-z0-9_.~!*()''/-]' THEN chr(byte)
                 ELSE '%' || upper(lpad(to_hex(byte), 2, '0')) END,
            '' ORDER BY position), '')
        FROM (
            SELECT position, get_byte(bytes, position) AS byte
            FROM convert_to(slashed, 'UTF8') AS bytes, generate_series(0, octet_length(bytes) - 1) AS position
        ) AS path_bytes
    );
END
$$;
"""

LINE_TYPE = """
CREATE TYPE orders_order_place_line AS (
    sku_id bigint, quantity integer, for_sale boolean, stock integer,
    product_id bigint, title text, specs jsonb, price_fen integer, image text
);
"""

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
        address_detail, source_scene, source_campaign, idempotency_key, request_digest, created_at,
        expires_at, paid_at, shipped_at, carrier, tracking_number
    )
    -- statement_timestamp(), not now(): inside a caller's transaction now() is when that began.
    SELECT new_order_no, buyer_id, 'pending_payment', sum(l.price_fen::bigint * l.quantity), order_note,
        address.recipient, address.phone, address.province, address.city, address.district, address.detail,
        scene, campaign, key, digest, statement_timestamp(),
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
    "orders_order_place(bigint, bigint, bigint[], integer[], bigint[], text, text, integer, text, text, text, integer,"
    " text)"
)


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0007_verbose_names_translated"),
        ("orders", "0020_verbose_names_translated"),
    ]

    operations = [
        RunSQLOnPostgreSQL(URI_PATH_QUOTE, reverse_sql="DROP FUNCTION orders_uri_path_quote(text);"),
        RunSQLOnPostgreSQL(LINE_TYPE, reverse_sql="DROP TYPE orders_order_place_line;"),
        RunSQLOnPostgreSQL(ORDER_PLACE, reverse_sql=f"DROP FUNCTION {ORDER_PLACE_SIGNATURE};"),
    ]
