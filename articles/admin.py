from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db import models
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.urls import path, reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from django_prose_editor.fields import ProseEditorFormField
from unfold.admin import ModelAdmin

from articles.content import article_content_clean, article_content_for_phone, article_content_is_empty
from articles.images import ImageCannotFit, image_for_thumb
from articles.models import Article
from articles.selectors import article_preview_account_name
from articles.services.articles import article_inline_image_store, article_save
from catalog.selectors import PRODUCT_PAGE, products_for_mini_program_links
from config.admin_thumbnails import list_thumbnail_html
from config.rich_text_editor import RICH_TEXT_EXTENSIONS, ImageUploadEditorWidget
from wechat.linked_mini_programs import article_mini_program, article_mini_program_appids

# What WeChat articles are made of; the cleaner (articles/content.py) keeps the same and a little more.
EDITOR_EXTENSIONS = {
    "Heading": {"levels": [1, 2, 3]},
    **RICH_TEXT_EXTENSIONS,
    "Link": {"enableTarget": False, "protocols": ["http", "https"]},
    "TextAlign": {"types": ["heading", "paragraph"]},
    # Keep colours pasted from Word and web pages (WeChat shows them).
    "TextStyle": True,
    "Color": True,
    # The image button uploads to our admin (config/rich_text_editor.py).
    "WeChatImage": {"uploadUrl": reverse_lazy("admin:articles_article_upload_image")},
    # Cards and links to our Mini Program (articles/static/articles/editor_mini_program.js).
    "WeChatMiniProgram": {
        "targetsUrl": reverse_lazy("admin:articles_article_mini_program_targets"),
        "buttonTitle": _("Mini Program card or link"),
    },
    "HTML": True,
}
MINI_PROGRAM_EDITOR_MODULE = "articles/editor_mini_program.js"
PREVIEW_TEMPLATE = "articles/preview.html"


class ArticleEditorWidget(ImageUploadEditorWidget):
    """The staff editor with the image upload module and the Mini Program button's."""

    def get_config(self):
        config = super().get_config()
        return config | {"js_modules": [*config["js_modules"], static(MINI_PROGRAM_EDITOR_MODULE)]}


def article_content_clean_for_ours(html: str) -> str:
    """The cleaner, keeping Mini Program cards and links of the Mini Programs linked to our accounts."""
    return article_content_clean(html, mini_program_appids=article_mini_program_appids())


# The preview page shows cleaned HTML only; this forbids scripts there should anything slip through.
PREVIEW_CONTENT_SECURITY_POLICY = "script-src 'none'; object-src 'none'; frame-src 'none'; base-uri 'none'"


def _https_url_fields(field: models.Field, **kwargs) -> forms.Field | None:
    # WeChat serves and links over HTTPS; a link typed without a scheme means https.
    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return field.formfield(**kwargs)


class ArticleAdminForm(forms.ModelForm):
    content = ProseEditorFormField(
        config={"extensions": EDITOR_EXTENSIONS},
        widget=ArticleEditorWidget,
        sanitize=article_content_clean_for_ours,
        help_text=Article._meta.get_field("content").help_text,
        label=_("Content"),
    )

    class Meta:
        model = Article
        formfield_callback = _https_url_fields
        fields = [
            "title",
            "author",
            "digest",
            "cover",
            "content",
            "content_source_url",
            "need_open_comment",
            "only_fans_can_comment",
        ]

    def clean_content(self) -> str:
        content = self.cleaned_data["content"]
        if article_content_is_empty(content):
            raise forms.ValidationError(_("Write some text or add an image: nothing WeChat would show is left."))
        return content

    def clean_cover(self):
        cover = self.cleaned_data.get("cover")
        # Only a newly chosen file; the stored cover was checked when it was chosen.
        if cover and hasattr(cover, "content_type"):
            try:
                image_for_thumb(cover.read())
            except ImageCannotFit as refusal:
                raise forms.ValidationError(str(refusal)) from refusal
            finally:
                cover.seek(0)
        return cover


@admin.register(Article)
class ArticleAdmin(ModelAdmin):
    form = ArticleAdminForm
    list_display = ["cover_thumbnail", "title", "author", "created_by", "created_at", "updated_at"]
    list_display_links = ["title"]
    list_select_related = ["created_by"]
    list_filter = ["created_at", "need_open_comment"]
    search_fields = ["title", "author", "digest"]
    # WeChat serves and links over HTTPS; a link typed without a scheme means https.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    readonly_fields = ["created_by", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["title", "author", "digest", "cover"]}),
        (_("Content"), {"fields": ["content", "content_source_url"]}),
        (_("Comments"), {"fields": ["need_open_comment", "only_fans_can_comment"]}),
        (_("History"), {"fields": ["created_by", "created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    @admin.display(description=_("Cover"))
    def cover_thumbnail(self, article: Article) -> str:
        return list_thumbnail_html(media_name=article.cover.name)

    def save_model(self, request, obj, form, change):
        article_save(article=obj, staff_user=request.user)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("upload-image/", wrap(self.upload_image_view), name="articles_article_upload_image"),
            path("preview/", wrap(self.preview_render_view), name="articles_article_preview_render"),
            path(
                "mini-program-targets/",
                wrap(self.mini_program_targets_view),
                name="articles_article_mini_program_targets",
            ),
            path("<path:object_id>/preview/", wrap(self.preview_view), name="articles_article_preview"),
            *super().get_urls(),
        ]

    def upload_image_view(self, request):
        """The editor's image button: keep the image as uploaded, or say why WeChat could never take it."""
        if request.method != "POST":
            return JsonResponse({"error": _("Upload with POST.")}, status=405)
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        upload = request.FILES.get("image")
        if upload is None:
            return JsonResponse({"error": _("Choose an image to upload.")}, status=400)
        try:
            url = article_inline_image_store(data=upload.read())
        except ImageCannotFit as refusal:
            return JsonResponse({"error": str(refusal)}, status=400)
        return JsonResponse({"url": url}, status=201)

    def mini_program_targets_view(self, request):
        """The Mini Program button's choices: our linked Mini Program's appid, products to link, the dialog's words."""
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        mini_program = article_mini_program()
        if mini_program is None:
            return JsonResponse(
                {
                    "appid": None,
                    "error": _(
                        "No Mini Program is linked to an Official Account, so WeChat would drop its cards and links. "
                        "Link the Mini Program to the account in WeChat's console, then choose it as the account's "
                        "linked Mini Program under Official Accounts."
                    ),
                }
            )
        products = [
            {
                "id": product.pk,
                "title": product.title,
                "path": f"{PRODUCT_PAGE}?id={product.pk}",
                "image_url": (
                    request.build_absolute_uri(default_storage.url(product.card_image_name))
                    if product.card_image_name
                    else ""
                ),
            }
            for product in products_for_mini_program_links()
        ]
        return JsonResponse({"appid": mini_program.appid, "products": products, "labels": _mini_program_labels()})

    @staticmethod
    def _preview_response(request, context: dict) -> TemplateResponse:
        response = TemplateResponse(
            request, PREVIEW_TEMPLATE, {"account_name": article_preview_account_name(), **context}
        )
        response["Content-Security-Policy"] = PREVIEW_CONTENT_SECURITY_POLICY
        return response

    def preview_render_view(self, request):
        """The change page's live phone preview: the unsaved form's title, author and cleaned content."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return require_POST(self._preview_of_form)(request)

    def _preview_of_form(self, request):
        return self._preview_response(
            request,
            {
                "title": request.POST.get("title", ""),
                "author": request.POST.get("author", ""),
                "content": article_content_for_phone(article_content_clean_for_ours(request.POST.get("content", ""))),
                "date": timezone.localdate(),
                "cover_url": "",
            },
        )

    def preview_view(self, request, object_id: str):
        """The saved article as followers will see it, on a phone-sized page."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        if not object_id.isdigit():
            raise Http404("No such article.")
        article = get_object_or_404(Article, pk=object_id)
        return self._preview_response(
            request,
            {
                "title": article.title,
                "author": article.author,
                # Cleaned again: rows written outside the admin may not have been.
                "content": article_content_for_phone(article_content_clean_for_ours(article.content)),
                "date": timezone.localdate(article.updated_at),
                "cover_url": article.cover.url if article.cover else "",
            },
        )


def _mini_program_labels() -> dict[str, str]:
    return {
        "kind": _("Insert"),
        "card": _("Mini Program card"),
        "text": _("Text link"),
        "image": _("Image link"),
        "product": _("Product"),
        "any_page": _("Another page (write it below)"),
        "page": _("Mini Program page"),
        "title": _("Title (card) or link text"),
        "image_url": _("Image address (card and image link)"),
        "insert": _("Insert"),
        "cancel": _("Cancel"),
        "page_problem": _("Write the page as the Mini Program lists it, e.g. pages/index/index (no leading “/”)."),
        "image_problem": _("A card or image link needs an image address starting with https://."),
        "title_problem": _("Write a title or the link's text."),
    }


# Registered on import: the follower lists and the pushes live in their own modules.
from articles import admin_console_sends, admin_followers, admin_pushes, admin_statistics  # noqa: E402, F401
