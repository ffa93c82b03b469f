"""Settings of the example project: SQLite, the Django admin, nothing to install.

The trusted issuer of the demo is a ``TrustedIssuer`` row, not an ``ISSUERS`` entry, so it can be
disabled and enabled in the admin: ``manage.py demo_setup`` (run by ``rundemo``) creates it, with
two more rows for its workload-bound and DPoP-bound tokens.
Never copy ``ALLOW_HTTP_LOOPBACK`` or the development issuer into production settings: they
exist so the demo runs the real key-fetch path against keys served by this very project.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

# Where the demo listens (a loopback address), its database and its development keys and admin
# password (overridable for tests).
DEMO_ADDR = os.environ.get("BG_DEMO_ADDR", "127.0.0.1:8000")
DEMO_ORIGIN = f"http://{DEMO_ADDR}"
DEMO_KEYS_DIR = Path(os.environ.get("BG_DEMO_KEYS", BASE_DIR / ".dev-keys"))
DEMO_ISSUER = f"{DEMO_ORIGIN}/dev-issuer"
DEMO_AUDIENCE = "https://demo-api.example.test"
DEMO_FILES_DIR = BASE_DIR / "files"
DEMO_ADMIN_USER = "admin"
# The address the demo's "proxy" connects from (curl --interface): on Linux all of 127.0.0.0/8 is
# loopback, so a plain curl comes from 127.0.0.1 and is not the proxy.
DEMO_PROXY_ADDR = "127.0.0.2"

SECRET_KEY = "example-project-only-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver", DEMO_ADDR.rpartition(":")[0]]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_bearer_guard",
    "example_project.demo",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "/static/"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BG_DEMO_DB", str(BASE_DIR / "db.sqlite3")),
    }
}
# One process: the local-memory cache is enough. Several processes share keys through Redis.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["django_bearer_guard.authentication.BearerTokenAuthentication"],
    # Views that need scopes add django_bearer_guard.permissions.HasScopes.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's own 401s and 403s (no token, DjangoModelPermissions) in the RFC 6750 body shape.
    "EXCEPTION_HANDLER": "django_bearer_guard.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

BEARER_GUARD = {
    # The development issuer is a TrustedIssuer row (example_project/demo/dev_issuer.py); an
    # issuer also named here would win over the row, and the admin could no longer disable it.
    "ISSUERS": [],
    # Example only: lets the development issuer use http:// on 127.0.0.1.
    "ALLOW_HTTP_LOOPBACK": True,
    # Workload-bound tokens: the caller's certificate as an Envoy proxy in front of the API reports
    # it, believed only from that proxy's address (the demo's curls play the proxy).
    "TRANSPORT_IDENTITY": {"source": "xfcc", "trusted_proxies": [f"{DEMO_PROXY_ADDR}/32"]},
    # RFC 9728: /.well-known/oauth-protected-resource describes this API, and every 401 names it.
    "RESOURCE_METADATA": {"resource": DEMO_ORIGIN, "resource_name": "django-bearer-guard demo API"},
    "SCOPE_PERMISSIONS": {
        "documents:read": ["demo.view_document"],
        "documents:write": [
            "demo.view_document",
            "demo.add_document",
            "demo.change_document",
            "demo.delete_document",
        ],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_bearer_guard": {"handlers": ["console"], "level": "INFO"}},
}
