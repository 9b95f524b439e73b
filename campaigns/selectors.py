"""Reads of campaigns shared by other apps."""

import functools

from campaigns.models import Campaign


def campaign_id_for_code(*, code: str) -> int | None:
    """The id of our campaign with `code`, or None: none has it (or no code), which is no error."""
    if not code:
        return None
    return Campaign.objects.filter(code=code).values_list("pk", flat=True).first()


def campaign_id_for_code_sql(*, code: str) -> tuple[str, tuple]:
    """campaign_id_for_code as an SQL subquery and its parameters, for a statement that writes the id itself."""
    return _campaign_id_for_code_sql(), (code,)


@functools.cache
def _campaign_id_for_code_sql() -> str:
    # Compiled once a process: the code is the query's only parameter.
    sql, params = Campaign.objects.filter(code="").values("pk")[:1].query.sql_with_params()
    assert params == ("",), params
    return f"({sql})"
