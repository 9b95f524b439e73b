"""Liveness of what every request and task depends on: database, cache, broker; and of beat and the workers."""

import time
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.celery import app as celery_app
from config.liveness import WORKER_ALIVE_WITHIN_SECONDS, beat_last_tick, beat_watch_started, workers_last_seen

BROKER_TIMEOUT_SECONDS = 3


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    key, value = f"health:{uuid.uuid4().hex}", uuid.uuid4().hex
    cache.set(key, value, timeout=10)
    if cache.get(key) != value:
        raise RuntimeError("value written was not read back")
    cache.delete(key)


def _check_broker() -> None:
    with celery_app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)


CHECKS = {"database": _check_database, "cache": _check_cache, "broker": _check_broker}


def _beat_report(now: float) -> dict:
    """Beat's last completed tick; silent past HEALTH_BEAT_MAX_SILENCE_SECONDS means scheduled work has stopped.

    Before any tick is seen, the silence counts from health's first look, so a beat that never
    started is reported too, once it has had as long as a stopped one.
    """
    last_tick = beat_last_tick()
    silent_since = last_tick if last_tick is not None else beat_watch_started()
    silence = max(0, round(now - silent_since))
    return {
        "status": "ok" if silence <= settings.HEALTH_BEAT_MAX_SILENCE_SECONDS else "silent",
        "last_tick": _timestamp(last_tick),
        "seconds_since_last_tick": silence if last_tick is not None else None,
        "max_silence_seconds": settings.HEALTH_BEAT_MAX_SILENCE_SECONDS,
    }


def _workers_report(now: float) -> dict:
    seen = workers_last_seen()
    latest = max(seen.values(), default=None)
    return {
        # Counted, not named: this page needs no login and host names are not the public's business.
        "alive": sum(1 for at in seen.values() if now - at <= WORKER_ALIVE_WITHIN_SECONDS),
        "seconds_since_last_heartbeat": max(0, round(now - latest)) if latest is not None else None,
        "alive_within_seconds": WORKER_ALIVE_WITHIN_SECONDS,
    }


def _timestamp(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="seconds")


HealthSerializer = inline_serializer(
    "Health",
    fields={
        "status": serializers.CharField(
            help_text="ok; degraded when beat is silent (scheduled work has stopped); failing when any check fails"
        ),
        "checks": serializers.DictField(
            child=serializers.CharField(), help_text="each dependency: ok or failing; beat: ok or silent"
        ),
        "beat": inline_serializer(
            "HealthBeat",
            fields={
                "status": serializers.CharField(help_text="ok, or silent"),
                "last_tick": serializers.DateTimeField(allow_null=True, help_text="beat's last completed tick"),
                "seconds_since_last_tick": serializers.IntegerField(allow_null=True),
                "max_silence_seconds": serializers.IntegerField(help_text="HEALTH_BEAT_MAX_SILENCE_SECONDS"),
            },
            allow_null=True,
            help_text="null when the cache, through which beat reports, is failing",
        ),
        "workers": inline_serializer(
            "HealthWorkers",
            fields={
                "alive": serializers.IntegerField(help_text="Celery workers that sent a heartbeat lately"),
                "seconds_since_last_heartbeat": serializers.IntegerField(allow_null=True),
                "alive_within_seconds": serializers.IntegerField(),
            },
            allow_null=True,
            help_text="null when the cache, through which workers report, is failing",
        ),
    },
)


class HealthApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: HealthSerializer, 503: HealthSerializer})
    def get(self, request):
        results = {}
        for name, check in CHECKS.items():
            try:
                check()
                results[name] = "ok"
            except Exception as error:  # noqa: BLE001 - any failure means unhealthy
                # The class name only: messages can carry connection URLs with passwords.
                results[name] = f"failing: {type(error).__name__}"
        healthy = all(result == "ok" for result in results.values())
        now = time.time()
        beat = workers = None
        if results["cache"] == "ok":  # beat and the workers report through the cache
            beat, workers = _beat_report(now), _workers_report(now)
            results["beat"] = beat["status"]
        status = "failing" if not healthy else "degraded" if beat["status"] != "ok" else "ok"
        body = {"status": status, "checks": results, "beat": beat, "workers": workers}
        return Response(body, status=200 if status == "ok" else 503)
