"""``DEFAULT_PERMISSION_CLASSES = [HasScopes]`` in a fresh process: every view fails closed, the schema still works."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from django_bearer_guard.testing import LocalIssuer

ROOT = Path(__file__).resolve().parents[2]


_GLOBAL_SCRIPT = r"""
import json, os, sys
import django
from django.conf import settings
guard = json.loads(os.environ["BG_DEFAULT_GUARD"])
import tests.settings as base
settings.configure(**{k: getattr(base, k) for k in dir(base) if k.isupper()})
settings.BEARER_GUARD = guard
settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "drf_spectacular"]
settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
if os.environ["BG_DEFAULT_MODE"] == "setting":
    settings.REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"] = ["django_bearer_guard.permissions.HasScopes"]
settings.ROOT_URLCONF = "default_permission_urls"
django.setup()
from rest_framework.views import APIView
from django_bearer_guard.permissions import HasScopes
# What DEFAULT_PERMISSION_CLASSES = [HasScopes] means for every view defined afterwards.
APIView.permission_classes = [HasScopes]
import types
from django.urls import path
from rest_framework.decorators import api_view
from rest_framework.response import Response
from rest_framework.views import APIView
from drf_spectacular.views import SpectacularAPIView

class Plain(APIView):
    def get(self, request):
        return Response({"ok": True})

class Declared(APIView):
    required_scopes = ["reports:read"]
    def get(self, request):
        return Response({"ok": True})
    def post(self, request):
        return Response({"ok": True})

@api_view(["GET"])
def plain_function(request):
    return Response({"ok": True})

urls = types.ModuleType("default_permission_urls")
urls.urlpatterns = [
    path("plain/", Plain.as_view()),
    path("declared/", Declared.as_view()),
    path("function/", plain_function),
    path("schema/", SpectacularAPIView.as_view()),
]
sys.modules["default_permission_urls"] = urls
from django.test import Client
from django.core import checks
client = Client()
auth = {"HTTP_AUTHORIZATION": "Bearer " + os.environ["BG_DEFAULT_TOKEN"]}
out = {}
for name, url in [("plain", "/plain/"), ("function", "/function/"), ("declared", "/declared/")]:
    out[name] = client.get(url, **auth).status_code
    out[name + "_anonymous"] = client.get(url).status_code
    out[name + "_options"] = client.options(url, **auth).status_code
out["declared_browsable"] = client.get("/declared/", HTTP_ACCEPT="text/html", **auth).status_code
schema = client.get("/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
out["schema"] = schema.status_code
out["schema_security"] = json.loads(schema.content)["paths"]["/declared/"]["get"]["security"]
out["checks"] = sorted(m.id for m in checks.run_checks() if m.id.startswith("bearer_guard"))
print(json.dumps(out))
"""


def run_global(idp: LocalIssuer, mode: str) -> subprocess.CompletedProcess[bytes]:
    guard = {"ISSUERS": [idp.issuer_settings()], "ALLOW_HTTP_LOOPBACK": True}
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BG_DEFAULT_GUARD": json.dumps(guard),
        "BG_DEFAULT_TOKEN": idp.mint(scope="reports:read"),
        "BG_DEFAULT_MODE": mode,
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("PYTHONDEVMODE", None)
    return subprocess.run(
        [sys.executable, "-c", _GLOBAL_SCRIPT], env=env, capture_output=True, timeout=60, check=False, cwd=ROOT
    )


def test_has_scopes_can_be_named_in_default_permission_classes(idp: LocalIssuer) -> None:
    done = run_global(idp, "setting")
    assert done.returncode == 0, done.stderr.decode()[-1500:]


def test_global_has_scopes_default_fails_closed_and_leaves_schema_and_browsable_api_working(idp: LocalIssuer) -> None:
    done = run_global(idp, "assigned")
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    out = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert out["plain"] == out["function"] == 403
    assert out["plain_anonymous"] == out["function_anonymous"] == out["declared_anonymous"] == 401
    assert out["plain_options"] == 403
    assert out["declared"] == out["declared_options"] == out["declared_browsable"] == 200
    assert out["schema"] == 200
    assert out["schema_security"] == [{"bearerAuth": ["reports:read"]}]
    assert "bearer_guard.E020" in out["checks"]
