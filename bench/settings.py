"""Settings of the bench project: a lean JSON API, configured by the file that ``BENCH_CONFIG`` names.

Two middlewares (security, common), no sessions, JSON only, the database never touched: what is
left around a DRF view is what an API in production pays for on every request anyway.
"""

from __future__ import annotations

from bench.common import load_config

_config = load_config()

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "bench.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "rest_framework", "django_bearer_guard"]
MIDDLEWARE = ["django.middleware.security.SecurityMiddleware", "django.middleware.common.CommonMiddleware"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "OPTIONS": {"MAX_ENTRIES": _config.get("cache_entries", 1000)},
    }
}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "protected": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": _config.get("files", "/nonexistent")},
    },
}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["django_bearer_guard.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}
BEARER_GUARD = _config["guard"]
# simplejwt's own configuration verifies RS256 (bench.views gives ES256 and EdDSA a backend each).
SIMPLE_JWT = {
    "ALGORITHM": "RS256",
    "SIGNING_KEY": None,
    "VERIFYING_KEY": _config["keys"]["RS256"]["pem"],
    "AUDIENCE": _config["audience"],
    "ISSUER": _config["issuer"],
    "USER_ID_CLAIM": "sub",
    "LEEWAY": 30,
}
