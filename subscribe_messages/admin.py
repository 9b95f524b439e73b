from django import forms
from django.contrib import admin
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, TabularInline

from config.admin_read_only import ReadOnlyAdmin, ReadOnlyInline
from orders.models import Order
from subscribe_messages.keyword_types import KeywordType, keyword_type_of, value_fits
from subscribe_messages.models import (
    SubscribeMessage,
    SubscribeMessageEvent,
    SubscribeMessageTemplate,
    SubscriptionAcceptance,
    TemplateKeyword,
)
from subscribe_messages.order_values import SUITABLE_TYPES, OrderField


class TemplateKeywordForm(forms.ModelForm):
    """A keyword's name must be WeChat's (type + number) and what it shows must fit that type."""

    class Meta:
        model = TemplateKeyword
        fields = ["keyword", "order_field", "fixed_text"]

    def clean(self):
        cleaned = super().clean()
        keyword, order_field = cleaned.get("keyword", ""), cleaned.get("order_field")
        fixed_text = cleaned.get("fixed_text", "")
        keyword_type = keyword_type_of(keyword)
        if keyword and keyword_type is None:
            self.add_error(
                "keyword",
                gettext("“%(keyword)s” is not a keyword name: a type (%(types)s) then a number, e.g. thing1.")
                % {"keyword": keyword, "types": ", ".join(KeywordType.values)},
            )
        if keyword_type is None or not order_field:
            return cleaned
        if keyword_type not in SUITABLE_TYPES[order_field]:
            suitable = [OrderField(field).label for field, types in SUITABLE_TYPES.items() if keyword_type in types]
            self.add_error(
                "order_field",
                gettext("A %(type)s keyword cannot show “%(field)s”; it can show: %(suitable)s.")
                % {
                    "type": keyword_type.label,
                    "field": OrderField(order_field).label,
                    "suitable": "、".join(str(label) for label in suitable),
                },
            )
        if order_field == OrderField.FIXED_TEXT and not value_fits(keyword_type, fixed_text):
            self.add_error(
                "fixed_text",
                gettext("“%(text)s” is not a valid %(type)s value as WeChat limits it.")
                % {"text": fixed_text, "type": keyword_type.label},
            )
        elif order_field != OrderField.FIXED_TEXT and fixed_text:
            self.add_error("fixed_text", gettext("Fixed text is only for keywords that show fixed text."))
        return cleaned


class TemplateKeywordInline(TabularInline):
    model = TemplateKeyword
    form = TemplateKeywordForm
    extra = 0
    min_num = 1
    hide_title = True

    def get_formset(self, request, obj=None, **kwargs):
        # A template without keywords cannot be sent; Django's inlines do not check min_num unless told.
        return super().get_formset(request, obj, validate_min=True, **kwargs)


@admin.register(SubscribeMessageTemplate)
class SubscribeMessageTemplateAdmin(ModelAdmin):
    list_display = ["title", "template_id", "event", "mini_program", "enabled", "updated_at"]
    list_filter = ["event", "enabled", "mini_program"]
    search_fields = ["title", "template_id__exact"]
    fields = ["mini_program", "title", "template_id", "event", "page", "enabled"]
    inlines = [TemplateKeywordInline]


class SubscribeMessageEventInline(ReadOnlyInline):
    model = SubscribeMessageEvent
    fields = ["at", "from_status", "to_status", "reason"]
    readonly_fields = fields


@admin.register(SubscribeMessage)
class SubscribeMessageAdmin(ReadOnlyAdmin):
    """What each order's buyer was told, or why not; written by the sending worker only."""

    list_display = ["order", "event", "status", "outcome", "errcode", "attempts", "created_at"]
    list_filter = ["status", "event", "outcome"]
    list_select_related = ["order"]
    search_fields = ["order__order_no__exact"]
    fields = [
        "order",
        "event",
        "template",
        "status",
        "outcome",
        "errcode",
        "detail",
        "values",
        "attempts",
        "msgid",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields
    inlines = [SubscribeMessageEventInline]


@admin.register(SubscriptionAcceptance)
class SubscriptionAcceptanceAdmin(ReadOnlyAdmin):
    list_display = ["customer", "template", "available", "accepted_total", "last_result", "updated_at"]
    list_select_related = ["customer", "template"]
    list_filter = ["template", "last_result"]
    search_fields = ["customer__openid__exact"]


class OrderSubscribeMessageInline(ReadOnlyInline):
    """On the order page: the buyer's messages of this order, sent or why not."""

    model = SubscribeMessage
    verbose_name_plural = _("messages to the buyer")
    fields = ["event", "status", "outcome", "errcode", "detail", "updated_at"]
    readonly_fields = fields
    show_change_link = True


# orders sits below this app and cannot name it (pyproject.toml's layers): the order page gets the
# messages from here, added to the order admin orders registered.
_order_admin = admin.site._registry.get(Order)
if _order_admin is not None:
    _order_admin.inlines = [*_order_admin.inlines, OrderSubscribeMessageInline]
