"""A login's writes on PostgreSQL as one statement: the customer upserted, their token inserted.

The ORM path (customers/services.py: select for update, create, save, create) takes six to ten round
trips to the database; this one takes one. Same rules as the ORM path:
- the customer is found by (Mini Program, openid), or created; two first logins of one user race on
  that unique constraint, and ON CONFLICT makes the loser update the winner's row;
- the session key and last login always change, the unionid when WeChat sent one;
- the first campaign is set only if the row has none (ON CONFLICT locks the row, so two logins with
  campaigns cannot both set it), with its scene, page and time, and our campaign's id if it is one;
- a customer from before Mini Programs were rows (no Mini Program) is not handled here: when one may
  be adopted, the statement writes nothing and returns None, and the caller takes the ORM path.

Its commit does not wait for the WAL to reach the disk (synchronous_commit off for this transaction
only): what a crash of the database server could lose is the last fraction of a second of logins,
whose tokens then answer 401 and whose Mini Programs log in again (docs/benchmarks.md says what it saves).
"""

import functools
from datetime import datetime

from django.db import connection

from campaigns.selectors import campaign_id_for_code_sql
from campaigns.sources import Source
from customers.models import Customer, CustomerToken
from wechat.models import MiniProgram

# On a row that exists, these follow the login; created_at, nickname, avatar and the rest stay.
_FIRST_SOURCE_COLUMNS = (
    "first_source_campaign",
    "first_source_scene",
    "first_source_path",
    "first_source_at",
    "first_campaign_id",
)


def customer_login_upsert(
    *,
    mini_program: MiniProgram,
    openid: str,
    unionid: str | None,
    session_key: str,
    source: Source,
    now: datetime,
    token_digest: str,
    token_expires_at: datetime,
    adopt_legacy: bool,
) -> Customer | None:
    """The customer logged in and their token stored, in one statement; None when a legacy customer may be adopted."""
    new = Customer(mini_program=mini_program, openid=openid, unionid=unionid or "", session_key=session_key)
    new.last_login_at = now
    if source.campaign:
        new.first_source_campaign = source.campaign
        new.first_source_scene = source.scene
        new.first_source_path = source.path
        new.first_source_at = now
    params = []
    for field in _inserted_fields():
        if field.column == "first_campaign_id" and source.campaign:
            params.extend(campaign_id_for_code_sql(code=source.campaign)[1])
        else:
            params.append(field.get_db_prep_save(field.pre_save(new, add=True), connection))
    if adopt_legacy:
        params.append(openid)
    # Not inside a caller's transaction, whose other writes expect their commit to wait as usual.
    sql = _upsert_sql(
        campaign=bool(source.campaign), adopt_legacy=adopt_legacy, asynchronous_commit=not connection.in_atomic_block
    )
    params += [token_digest, now, token_expires_at]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    attnames = _returned_attnames()
    customer = Customer.from_db(connection.alias, attnames, row[: len(attnames)])
    customer.mini_program = mini_program
    return customer


@functools.cache
def _inserted_fields() -> tuple:
    return tuple(field for field in Customer._meta.concrete_fields if not field.primary_key)


@functools.cache
def _returned_attnames() -> tuple[str, ...]:
    return tuple(field.attname for field in Customer._meta.concrete_fields)


@functools.cache
def _upsert_sql(*, campaign: bool, adopt_legacy: bool, asynchronous_commit: bool) -> str:
    """The statement for one shape of login, written once a process: composing it cost a login more
    CPU than PostgreSQL spends planning it. Its parameters follow _inserted_fields(), the legacy
    customer's openid when adopt_legacy, then the token's digest, creation and expiry."""
    quote = connection.ops.quote_name
    fields = _inserted_fields()
    values = [
        campaign_id_for_code_sql(code="")[0] if field.column == "first_campaign_id" and campaign else "%s"
        for field in fields
    ]
    table = quote(Customer._meta.db_table)
    legacy = ""
    if adopt_legacy:
        legacy = f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE mini_program_id IS NULL AND openid = %s)"
    first_source_unset = "existing.first_source_campaign = '' AND EXCLUDED.first_source_campaign <> ''"
    updates = [
        "session_key = EXCLUDED.session_key",
        "last_login_at = EXCLUDED.last_login_at",
        "unionid = CASE WHEN EXCLUDED.unionid <> '' THEN EXCLUDED.unionid ELSE existing.unionid END",
        *(
            f"{quote(column)} = CASE WHEN {first_source_unset} THEN EXCLUDED.{quote(column)} "
            f"ELSE existing.{quote(column)} END"
            for column in _FIRST_SOURCE_COLUMNS
        ),
    ]
    columns = ", ".join(quote(field.column) for field in fields)
    returned = ", ".join(f"existing.{quote(field.column)}" for field in Customer._meta.concrete_fields)
    token_table = quote(CustomerToken._meta.db_table)
    synchronous_commit_off = ", set_config('synchronous_commit', 'off', true)" if asynchronous_commit else ""
    return f"""
        WITH customer AS (
            INSERT INTO {table} AS existing ({columns})
            SELECT {", ".join(values)} {legacy}
            ON CONFLICT (mini_program_id, openid) DO UPDATE SET {", ".join(updates)}
            RETURNING {returned}
        ), token AS (
            INSERT INTO {token_table} (customer_id, key_digest, created_at, expires_at)
            SELECT id, %s, %s, %s FROM customer
        )
        SELECT customer.*{synchronous_commit_off} FROM customer
    """
