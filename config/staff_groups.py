"""Grant and revoke staff groups' permissions from data migrations.

A migration that changes what a group may do holds its own table of grants and
passes it here, so migrating forward or back touches exactly those grants:

    {"Marketing": {"articles.article": ["add", "change", "delete", "view"]}}

These functions take the migration's historical `apps`, never our live models,
so old migrations keep working as the models change.
"""

from django.apps import apps as installed_apps
from django.contrib.auth.management import create_permissions
from django.db.models import Q

# group name -> "app_label.model_name" -> actions ("add", "change", "delete", "view", or a custom codename prefix)
StaffGroupGrants = dict[str, dict[str, list[str]]]


def staff_group_permissions_grant(*, apps, using: str, grants: StaffGroupGrants) -> None:
    """Create the groups if needed and add the permissions; a missing permission is an error, not a skip."""
    Group = apps.get_model("auth", "Group")
    _permissions_create(apps=apps, using=using, grants=grants)
    for group_name, actions_by_model in grants.items():
        permissions = list(_permissions_matching(apps=apps, using=using, actions_by_model=actions_by_model))
        wanted = set()
        for model_label, actions in actions_by_model.items():
            app_label, model_name = model_label.split(".")
            wanted |= {(app_label, f"{action}_{model_name}") for action in actions}
        found = {(permission.content_type.app_label, permission.codename) for permission in permissions}
        if missing := wanted - found:
            raise LookupError(f"Permissions for group {group_name!r} do not exist: {sorted(missing)}")
        group, _ = Group.objects.using(using).get_or_create(name=group_name)
        group.permissions.add(*permissions)


def staff_group_permissions_revoke(*, apps, using: str, grants: StaffGroupGrants) -> None:
    """Remove the permissions; a group left with none was created by these grants, so it goes too."""
    Group = apps.get_model("auth", "Group")
    for group_name, actions_by_model in grants.items():
        group = Group.objects.using(using).filter(name=group_name).first()
        if group is None:
            continue
        group.permissions.remove(*_permissions_matching(apps=apps, using=using, actions_by_model=actions_by_model))
        if not group.permissions.exists():
            group.delete()


def _permissions_create(*, apps, using: str, grants: StaffGroupGrants) -> None:
    # On a fresh database permissions appear only in post_migrate, after every
    # migration has run; create the ones we need now. create_permissions reads
    # models and writes rows through the historical `apps`; it is given the
    # installed app config only because it skips configs without a models module,
    # which historical configs never have.
    app_labels = {model_label.split(".")[0] for actions_by_model in grants.values() for model_label in actions_by_model}
    for app_label in sorted(app_labels):
        create_permissions(installed_apps.get_app_config(app_label), apps=apps, using=using, verbosity=0)


def _permissions_matching(*, apps, using: str, actions_by_model: dict[str, list[str]]):
    Permission = apps.get_model("auth", "Permission")
    matches = Q(pk__in=[])
    for model_label, actions in actions_by_model.items():
        app_label, model_name = model_label.split(".")
        matches |= Q(
            content_type__app_label=app_label,
            content_type__model=model_name,
            codename__in=[f"{action}_{model_name}" for action in actions],
        )
    return Permission.objects.using(using).filter(matches).select_related("content_type")


def staff_group_migration_functions(grants: StaffGroupGrants):
    """The (forward, backward) pair for a RunPython that grants `grants` and revokes exactly them."""

    def grant(apps, schema_editor):
        staff_group_permissions_grant(apps=apps, using=schema_editor.connection.alias, grants=grants)

    def revoke(apps, schema_editor):
        staff_group_permissions_revoke(apps=apps, using=schema_editor.connection.alias, grants=grants)

    return grant, revoke
