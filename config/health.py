"""Liveness of what every request and task depends on: database, cache, broker."""

import uuid

from django.core.cache import cache
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.celery import app as celery_app

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


HealthSerializer = inline_serializer(
    "Health",
    fields={
        "status": serializers.CharField(help_text="ok, or failing when any check fails"),
        "checks": serializers.DictField(child=serializers.CharField(), help_text="each dependency: ok or failing"),
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
        return Response({"status": "ok" if healthy else "failing", "checks": results}, status=200 if healthy else 503)
