from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class WechatConfig(AppConfig):
    verbose_name = _("WeChat")
    name = "wechat"

    def ready(self):
        from config.admin_secrets import secret_fields_check

        # The models with secrets live here; the rule holds every admin that shows them, ours or another app's.
        checks.register(secret_fields_check, checks.Tags.admin)
