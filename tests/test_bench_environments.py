"""The benches that run the app under gunicorn with production settings give it every value production
requires: when production starts requiring another, this fails here rather than when someone runs a bench."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from bench import login, pay_notify, storefront_read
from bench.harness import BenchServices
from bench.side_database import SideDatabase

OUR_PREFIXES = ("DJANGO_", "WECHAT_", "CELERY_", "DATABASE_", "CACHE_URL")


def _harness_services(work_dir) -> BenchServices:
    database = SideDatabase(
        url="postgres://bench@127.0.0.1:5432/bench",
        maintenance_url="postgres://bench@127.0.0.1:5432/postgres",
        name="bench",
    )
    return BenchServices(
        database=database,
        cache_url="redis://127.0.0.1:6379/1",
        broker_url="amqp://guest:guest@127.0.0.1:5672//",
        work_dir=work_dir,
    )


@pytest.mark.parametrize(
    "bench_environment",
    [
        lambda work_dir: storefront_read.bench_environment(_harness_services(work_dir)),
        lambda work_dir: pay_notify.bench_environment(_harness_services(work_dir)),
        lambda work_dir: login.bench_environment(_harness_services(work_dir), sandbox_url="http://127.0.0.1:8900/"),
    ],
    ids=["storefront_read", "pay_notify", "login"],
)
def test_the_benchs_production_settings_start(bench_environment, tmp_path):
    clean = {key: value for key, value in os.environ.items() if not key.startswith(OUR_PREFIXES)}
    environment = {**clean, **bench_environment(tmp_path)}

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
