"""Staff log a customer out of every device from the customers list (action "revoke all API tokens")."""

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.utils import timezone

from customers.models import CustomerToken
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/customers/customer/"
PASSWORD = "pw-for-tests-only"


def _tokens(customer, count: int) -> None:
    for number in range(count):
        CustomerToken.objects.create(
            customer=customer,
            key_digest=CustomerToken.digest(f"{customer.openid}-{number}"),
            expires_at=timezone.now() + timedelta(days=30),
        )


def _staff(django_user_model, group_name: str):
    user = django_user_model.objects.create_user(f"staff-{group_name}", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group_name))
    return user


def test_operations_revoke_every_token_of_the_chosen_customers(client, django_user_model):
    lost_phone, other = CustomerFactory(), CustomerFactory()
    _tokens(lost_phone, 3)
    _tokens(other, 2)
    operator = _staff(django_user_model, "Operations")
    client.force_login(operator)

    answer = client.post(CHANGELIST, {"action": "revoke_tokens", "_selected_action": [lost_phone.pk]}, follow=True)

    assert answer.status_code == 200
    assert not CustomerToken.objects.filter(customer=lost_phone).exists()
    assert CustomerToken.objects.filter(customer=other).count() == 2
    assert "Customers logged out: 1. API tokens revoked: 3." in [str(message) for message in answer.context["messages"]]
    [entry] = LogEntry.objects.filter(object_id=str(lost_phone.pk))
    assert entry.user == operator and "API tokens revoked" in entry.get_change_message()


def test_staff_without_the_permission_are_not_offered_the_action(client, django_user_model):
    customer = CustomerFactory()
    _tokens(customer, 1)
    viewer = django_user_model.objects.create_user("viewer", password=PASSWORD, is_staff=True)
    viewer.user_permissions.add(*Group.objects.get(name="Operations").permissions.filter(codename="view_customer"))
    client.force_login(viewer)

    page = client.get(CHANGELIST)
    refused = client.post(CHANGELIST, {"action": "revoke_tokens", "_selected_action": [customer.pk]})

    assert page.status_code == 200
    assert "revoke_tokens" not in page.content.decode()
    assert refused.status_code in (200, 302)
    assert CustomerToken.objects.filter(customer=customer).count() == 1
