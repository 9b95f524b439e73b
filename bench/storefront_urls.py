"""The app's URLs plus a baseline that answers prebuilt JSON bodies; mounted only by bench/storefront_settings.py.

The bodies are the real answers captured before the server started, so the
baseline sends the same bytes through the same Django stack without the work
of building them: no queries, no serialization.
"""

import os
from pathlib import Path

from django.http import HttpResponse
from django.urls import path

from config.urls import urlpatterns as app_urlpatterns

BASELINE_BODIES = {
    body_file.stem: body_file.read_bytes() for body_file in Path(os.environ["BENCH_BASELINE_DIR"]).glob("*.json")
}


def baseline(request, name: str) -> HttpResponse:
    return HttpResponse(BASELINE_BODIES[name], content_type="application/json")


urlpatterns = [path("bench/baseline/<str:name>", baseline), *app_urlpatterns]
