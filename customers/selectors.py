import functools

from django.db import connection
from django.utils import timezone

from config.prepared_statements import prepared_statement_cursor
from customers.models import Customer, CustomerToken
from wechat.merchants import mini_program_default
from wechat.models import MiniProgram


def customer_token_find(*, token: str) -> CustomerToken | None:
    """The unexpired token row for a bearer token, with its customer, or None.

    Read on every authenticated request, so in SQL written once: compiling the ORM's query
    for it cost each request more CPU than the database spends answering it. The rows become
    models as the ORM makes them (the database's converters applied), so nothing else differs.
    """
    # Prepared on PostgreSQL: planning the join cost the database more than running it.
    with prepared_statement_cursor() if connection.vendor == "postgresql" else connection.cursor() as cursor:
        cursor.execute(_token_with_customer_sql(), [CustomerToken.digest(token), timezone.now()])
        row = cursor.fetchone()
    if row is None:
        return None
    token_fields = CustomerToken._meta.concrete_fields
    found = _model_from_row(CustomerToken, token_fields, row[: len(token_fields)])
    found.customer = _model_from_row(Customer, Customer._meta.concrete_fields, row[len(token_fields) :])
    return found


@functools.cache
def _token_with_customer_sql() -> str:
    quote = connection.ops.quote_name
    columns = [
        f"{alias}.{quote(field.column)}"
        for alias, model in (("t", CustomerToken), ("c", Customer))
        for field in model._meta.concrete_fields
    ]
    # key_digest is unique: one row at most.
    return (
        f"SELECT {', '.join(columns)} FROM {quote(CustomerToken._meta.db_table)} t"
        f" JOIN {quote(Customer._meta.db_table)} c ON c.{quote(Customer._meta.pk.column)} = t.{quote('customer_id')}"
        f" WHERE t.{quote('key_digest')} = %s AND t.{quote('expires_at')} > %s"
    )


def _model_from_row(model, fields, values):
    converted = list(values)
    # Only the columns with converters (on PostgreSQL the JSON ones): asking every field for its
    # converters on each request cost more than converting.
    for index in _columns_converted(model, connection.vendor):
        field, value = fields[index], converted[index]
        for converter in connection.ops.get_db_converters(field.cached_col) + field.get_db_converters(connection):
            value = converter(value, field.cached_col, connection)
        converted[index] = value
    return model.from_db(connection.alias, _attnames(model), converted)


@functools.cache
def _columns_converted(model, vendor: str) -> tuple[int, ...]:
    """Which of the model's columns the database's backend (`vendor`) or the field converts as it reads them."""
    return tuple(
        index
        for index, field in enumerate(model._meta.concrete_fields)
        if connection.ops.get_db_converters(field.cached_col) + field.get_db_converters(connection)
    )


@functools.cache
def _attnames(model) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


def customer_mini_program(*, customer: Customer) -> MiniProgram:
    """The Mini Program a customer logged in through, with its merchant; the settings' one for customers from before."""
    if customer.mini_program_id is None:
        return mini_program_default()
    return MiniProgram.objects.select_related("merchant").get(pk=customer.mini_program_id)
