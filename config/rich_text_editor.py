"""The rich-text editor staff write in: articles' content and products' descriptions.

django-prose-editor's bundled editor (its JS and CSS served from our static files, no CDN),
plus an image button that uploads to our own admin (`editor_image_upload.js`, which posts the
file to the extension's `uploadUrl` and inserts the URL answered), and its toolbar's titles in the
staff member's language (`editor_toolbar_translation.js`, with the admin's jsi18n catalog). Each use adds the marks its
cleaner keeps, so the editor never offers what saving would strip.
"""

from django.templatetags.static import static
from django.utils.translation import gettext_lazy as _
from django_prose_editor.widgets import AdminProseEditorWidget

# The text structure every staff editor offers.
RICH_TEXT_EXTENSIONS = {
    "Bold": True,
    "Italic": True,
    "Underline": True,
    "Strike": True,
    "BulletList": True,
    "OrderedList": True,
    "ListItem": True,
    "Blockquote": True,
    "HorizontalRule": True,
    "HardBreak": True,
}
# Kept with the articles app's static files, where the editor first needed it.
IMAGE_UPLOAD_MODULE = "articles/editor_image_upload.js"
# The bundle writes its toolbar's titles in English; this module translates them (see its header).
TOOLBAR_TRANSLATION_MODULE = "articles/editor_toolbar_translation.js"
# What the image button and its status line say, in the staff member's language: the editor's config is
# serialised when the page is drawn, so these lazy strings are translated for that request. The module
# puts the file's name (or the HTTP status) in place of {name} ({status}).
IMAGE_UPLOAD_MESSAGES = {
    "button": _("insert image"),
    "uploading": _("Uploading {name}…"),
    "inserted": _("{name} inserted."),
    "failed": _("The upload failed (HTTP {status})."),
}


class ImageUploadEditorWidget(AdminProseEditorWidget):
    """The bundled editor plus the image upload module (configure it as the "WeChatImage" extension),
    with its toolbar translated."""

    def get_config(self):
        config = super().get_config()
        extensions = config["extensions"]
        if "WeChatImage" in extensions:
            extensions = extensions | {"WeChatImage": extensions["WeChatImage"] | {"messages": IMAGE_UPLOAD_MESSAGES}}
        return config | {
            "extensions": extensions,
            "js_modules": [
                *config["js_modules"],
                static(IMAGE_UPLOAD_MODULE),
                static(TOOLBAR_TRANSLATION_MODULE),
            ],
        }
