from django.contrib import admin
from django.db import models

from articles.admin_preview import PushPreviewMixin
from articles.models import Article, Push


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "author", "created_by", "created_at", "updated_at"]
    list_select_related = ["created_by"]
    list_filter = ["created_at", "need_open_comment"]
    search_fields = ["title", "author", "digest"]
    # WeChat serves and links over HTTPS; a link typed without a scheme means https.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    readonly_fields = ["created_by", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["title", "author", "digest", "cover"]}),
        ("Content", {"fields": ["content", "content_source_url"]}),
        ("Comments", {"fields": ["need_open_comment", "only_fans_can_comment"]}),
        ("History", {"fields": ["created_by", "created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


# Only what the preview action needs; the pushes admin replaces this class and keeps
# PushPreviewMixin in its bases and "preview_on_wechat" in its actions.
@admin.register(Push)
class PushAdmin(PushPreviewMixin, admin.ModelAdmin):
    list_display = ["title", "account", "mode", "status", "scheduled_at", "sent_at"]
    list_select_related = ["account"]
    actions = ["preview_on_wechat"]
