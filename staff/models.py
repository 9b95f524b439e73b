from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class StaffLanguage(models.Model):
    """The language a staff member reads the admin in; without a row, settings.LANGUAGE_CODE (Chinese)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_language", verbose_name=_("user")
    )
    language = models.CharField(_("language"), max_length=16, choices=settings.LANGUAGES)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("staff language")
        verbose_name_plural = _("staff languages")

    def __str__(self) -> str:
        return f"{self.user} · {self.language}"
