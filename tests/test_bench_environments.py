"""The benches that run the app under gunicorn with production settings give it every value production
requires: when production starts requiring another, this fails here rather than when someone runs a bench."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from bench import pay_notify, storefront_read

OUR_PREFIXES = ("DJANGO_", "WECHAT_", "CELERY_", "DATABASE_", "CACHE_URL")


@pytest.mark.parametrize("bench", [storefront_read, pay_notify], ids=lambda bench: bench.__name__)
def test_the_benchs_production_settings_start(bench, tmp_path):
    clean = {key: value for key, value in os.environ.items() if not key.startswith(OUR_PREFIXES)}
    environment = {
        **clean,
        **bench.bench_environment(database_url="postgres://bench@127.0.0.1:5432/bench", work_dir=tmp_path),
    }

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("cache_mode", ["on", "off"])
def test_the_storefront_bench_settings_have_every_cache_the_app_reads(cache_mode, tmp_path):
    clean = {key: value for key, value in os.environ.items() if not key.startswith(OUR_PREFIXES)}
    environment = {
        **clean,
        **storefront_read.bench_environment(database_url="postgres://bench@127.0.0.1:5432/bench", work_dir=tmp_path),
        "BENCH_RESPONSE_CACHE": cache_mode,
        "BENCH_BASELINE_DIR": str(tmp_path),
    }

    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(*settings.CACHES)",
        ],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == list(settings.CACHES)
