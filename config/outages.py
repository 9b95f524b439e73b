"""Which failures mean a service we depend on is down, not a bug of ours.

The API answers these `503 service_unavailable` with `Retry-After`, so a client waits and
tries again instead of reading an outage as our error (config.exception_handler for DRF
views, config.api_middleware for whatever fails before or outside them).
"""

from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# Long enough for a restarting PostgreSQL or Redis to come back, short enough for a shopper.
RETRY_AFTER_SECONDS = 5

# A refused or dropped database connection (OperationalError: the server is down, restarting or
# unreachable; InterfaceError: a connection already closed under us), and the shared cache unreachable.
OUTAGE_ERRORS = (DatabaseOperationalError, DatabaseInterfaceError, RedisConnectionError, RedisTimeoutError)


def is_dependency_outage(error: BaseException) -> bool:
    return isinstance(error, OUTAGE_ERRORS)


def outage_name(error: BaseException) -> str:
    """What is down, for the log: the class only, since messages can carry connection URLs with passwords."""
    database = isinstance(error, DatabaseOperationalError | DatabaseInterfaceError)
    what = "the database" if database else "the shared cache"
    return f"{what} is unreachable: {type(error).__name__}"
