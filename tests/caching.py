from django.core.cache import caches

from wechat.merchants import mini_program_login_rows_forget, pay_message_rows_forget


def caches_clear() -> None:
    """Every cache empty, the shared one and this process's own, as after a restart."""
    for each in caches.all():
        each.clear()
    mini_program_login_rows_forget()  # rows a rolled-back test made
    pay_message_rows_forget()
