import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from customers.models import Customer, CustomerToken
from customers.tasks import purge_expired_customer_tokens


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_purges_expired_tokens(celery_worker):
    customer = Customer.objects.create(openid="o-worker-test")
    CustomerToken.objects.create(customer=customer, key_digest="a" * 64, expires_at=timezone.now() - timedelta(days=1))
    CustomerToken.objects.create(customer=customer, key_digest="b" * 64, expires_at=timezone.now() + timedelta(days=1))

    purge_expired_customer_tokens.delay()

    deadline = time.monotonic() + 30
    while CustomerToken.objects.count() != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(CustomerToken.objects.values_list("key_digest", flat=True)) == ["b" * 64]


@pytest.mark.django_db
def test_the_purge_is_scheduled_nightly_in_beijing_time():
    task = PeriodicTask.objects.get(task="customers.tasks.purge_expired_customer_tokens")

    assert task.enabled
    assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == ("3", "30", "Asia/Shanghai")
