"""Secrets in the admin: every encrypted field is write-only, for every role, on every page.

A model's secrets are its encrypted fields (django-fernet-encrypted-fields): app secrets, AES keys,
callback tokens, API keys, private keys. No staff page may print one back, whoever looks:

- an admin (or inline) of such a model uses `SecretFieldsAdminMixin` and a `WriteOnlySecretsForm`:
  the form's inputs never render a stored or submitted value, and a blank one keeps the stored value;
- staff who may only view a row do not get the secret fields on their page at all (Django renders a
  view-only page's fields as text, past the form's widgets);
- no list column, read-only field, search or filter names a secret (a field path through relations
  counts too).

`secret_fields_check` (a system check, so `manage.py check` and every start refuse a breach) holds
every registered admin and inline to these rules.
"""

from django import forms
from django.contrib import admin
from django.core import checks
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.translation import gettext_lazy as _
from encrypted_fields.fields import EncryptedFieldMixin
from unfold.widgets import UnfoldAdminPasswordWidget, UnfoldAdminTextareaWidget

SECRET_HELP = _("Stored encrypted and never shown again. Leave blank to keep the current value.")
# ModelAdmin options that would print a field's value or let a search probe it.
OPTIONS_THAT_SHOW_VALUES = ("list_display", "list_display_links", "readonly_fields", "search_fields", "list_filter")


def secret_field_names(model: type[models.Model]) -> tuple[str, ...]:
    return tuple(field.name for field in model._meta.concrete_fields if isinstance(field, EncryptedFieldMixin))


class WriteOnlyTextarea(UnfoldAdminTextareaWidget):
    """A Textarea that never puts a value back into the page, like PasswordInput(render_value=False)."""

    def format_value(self, value):
        return None


class WriteOnlySecretsForm(forms.ModelForm):
    """Secrets are write-only: never rendered back, optional when editing (blank keeps the stored value).

    `secrets_required_when_adding` names the secrets a new row cannot do without.
    """

    secrets_required_when_adding: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.secret_fields:
            field = self.fields[name]
            multiline = isinstance(field.widget, forms.Textarea)
            field.widget = WriteOnlyTextarea() if multiline else UnfoldAdminPasswordWidget(render_value=False)
            field.required = False
            field.help_text = SECRET_HELP
            self.initial[name] = ""

    @property
    def secret_fields(self) -> tuple[str, ...]:
        return tuple(name for name in secret_field_names(self._meta.model) if name in self.fields)

    def clean(self):
        cleaned = super().clean()
        kept = [name for name in self.secret_fields if not cleaned.get(name) and name not in self.errors]
        if self.instance.pk and kept:
            stored = type(self.instance).objects.get(pk=self.instance.pk)
            cleaned.update({name: getattr(stored, name) for name in kept})
        elif not self.instance.pk:
            for name in kept:
                if name in self.secrets_required_when_adding:
                    self.add_error(name, _("Required when adding."))
        return cleaned


def _without_secrets(fieldsets, secrets: tuple[str, ...]):
    return [
        (title, {**options, "fields": [name for name in options["fields"] if name not in secrets]})
        for title, options in fieldsets
    ]


class SecretFieldsAdminMixin:
    """For a ModelAdmin or inline of a model with secrets: staff without the change permission never get them."""

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if self.has_change_permission(request, obj):
            return fieldsets
        return _without_secrets(fieldsets, secret_field_names(self.model))


def _paths_naming_a_secret(model: type[models.Model], paths) -> list[str]:
    """The field paths ("merchant__api_key", "^name", ("api_version", Filter)) that end on a secret field."""
    found = []
    for path in paths:
        if isinstance(path, (tuple, list)):
            path = path[0]
        if not isinstance(path, str):
            continue
        current, parts = model, path.lstrip("^=@").split("__")
        for part in parts:
            try:
                field = current._meta.get_field(part)
            except FieldDoesNotExist:
                break
            if part in secret_field_names(current):
                found.append(path)
                break
            if not field.is_relation or field.related_model is None:
                break
            current = field.related_model
    return found


def _declares_fields_without_secrets(admin_object, model: type[models.Model]) -> bool:
    """An admin that lists its fields, none a secret, never puts a secret on a page, whatever its form."""
    if admin_object.fieldsets:
        declared = [name for _title, options in admin_object.fieldsets for name in options.get("fields", ())]
    elif admin_object.fields:
        declared = list(admin_object.fields)
    else:
        return False
    flat = [name for entry in declared for name in (entry if isinstance(entry, (tuple, list)) else (entry,))]
    return not set(flat) & set(secret_field_names(model))


def _admin_problems(admin_object, model: type[models.Model]) -> list[checks.Error]:
    label = f"{type(admin_object).__module__}.{type(admin_object).__qualname__}"
    problems = []
    for option in OPTIONS_THAT_SHOW_VALUES:
        for path in _paths_naming_a_secret(model, getattr(admin_object, option, ()) or ()):
            problems.append(
                checks.Error(f"{label}.{option} names the secret field {path!r}.", id="secrets.E001", obj=label)
            )
    if secret_field_names(model) and not _declares_fields_without_secrets(admin_object, model):
        if not isinstance(admin_object, SecretFieldsAdminMixin):
            problems.append(
                checks.Error(
                    f"{label} shows {model._meta.label}, which has secret fields, without SecretFieldsAdminMixin "
                    "(or fields/fieldsets naming none of them).",
                    id="secrets.E002",
                    obj=label,
                )
            )
        if not issubclass(admin_object.form, WriteOnlySecretsForm):
            problems.append(
                checks.Error(
                    f"{label}.form is not a WriteOnlySecretsForm: {model._meta.label}'s secrets would be rendered.",
                    id="secrets.E003",
                    obj=label,
                )
            )
    return problems


def secret_fields_check(app_configs=None, site: admin.AdminSite | None = None, **kwargs) -> list[checks.Error]:
    """Every admin and inline of `site` (the default one) keeps every secret write-only and out of sight."""
    site = site or admin.site
    problems = []
    for model, model_admin in site._registry.items():
        problems += _admin_problems(model_admin, model)
        for inline_class in model_admin.inlines:
            inline = inline_class(model, site)
            problems += _admin_problems(inline, inline.model)
    return problems
