from django.core.cache import caches


def caches_clear() -> None:
    """Every cache empty, the shared one and this process's own, as after a restart."""
    for each in caches.all():
        each.clear()
