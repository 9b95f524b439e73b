"""The app's URLs plus a baseline that answers prebuilt JSON bodies; mounted only by bench/storefront_settings.py.

The bodies are the real answers, captured from the same server before the timed runs and saved as
BENCH_BASELINE_DIR/<number>.json, one per URL a run reads; /bench/baseline/<number> sends that URL's
bytes through the same Django stack without the work of building them: no queries, no
serialization, no cache. Each process reads the folder on its first baseline request (the bench
captures after the server started, and warms every worker up before it times anything).
"""

import os
from pathlib import Path

from django.http import Http404, HttpResponse
from django.urls import path

from config.urls import urlpatterns as app_urlpatterns

_bodies: dict[str, bytes] = {}


def baseline(request, name: str) -> HttpResponse:
    if name not in _bodies:
        for body_file in Path(os.environ["BENCH_BASELINE_DIR"]).glob("*.json"):
            _bodies.setdefault(body_file.stem, body_file.read_bytes())
    if name not in _bodies:
        raise Http404(name)
    return HttpResponse(_bodies[name], content_type="application/json")


urlpatterns = [path("bench/baseline/<str:name>", baseline), *app_urlpatterns]
