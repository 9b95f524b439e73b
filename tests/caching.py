import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache, caches

from tests.real_services import require_redis
from wechat.merchants import mini_program_login_rows_forget, pay_message_rows_forget


def redis_caches(backend: str = "django.core.cache.backends.redis.RedisCache") -> dict:
    """The settings' caches with the default one on the test Redis, through `backend`, under a key prefix of its
    own: other runs sharing the database see none of its keys."""
    default = {"BACKEND": backend, "LOCATION": require_redis(), "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    return {**settings.CACHES, "default": default}


def caches_clear() -> None:
    """Every cache empty, the shared one and this process's own, as after a restart."""
    for each in caches.all():
        each.clear()
    mini_program_login_rows_forget()  # rows a rolled-back test made
    pay_message_rows_forget()


@contextmanager
def cache_round_trips() -> Iterator[list[str]]:
    """The round trips to the shared cache's Redis inside the block (a pipeline is one), each as its first command.

    Counted where redis-py sends what it packed, on connections of the cache's own pool (not the broker's).
    """
    sent: list[str] = []
    pool = cache.client.get_client(write=True).connection_pool
    send = pool.connection_class.send_packed_command

    def counted(connection, command, *args, **kwargs):
        if connection.host == pool.connection_kwargs.get("host") and connection.db == pool.connection_kwargs.get("db"):
            packed = b"".join(bytes(chunk) for chunk in command) if isinstance(command, list | tuple) else command
            sent.append(packed.split(b"\r\n")[2].decode(errors="replace"))
        return send(connection, command, *args, **kwargs)

    pool.connection_class.send_packed_command = counted
    try:
        yield sent
    finally:
        pool.connection_class.send_packed_command = send
