from django.apps import AppConfig


class WechatSandboxConfig(AppConfig):
    """Registered only for its `wechat_sandbox` management command; the sandbox has no models."""

    name = "wechat_sandbox"
    verbose_name = "WeChat sandbox"
