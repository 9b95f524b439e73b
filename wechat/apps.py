from django.apps import AppConfig


class WechatConfig(AppConfig):
    verbose_name = "WeChat"
    name = "wechat"
