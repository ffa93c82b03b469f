"""Routes for the per-issuer, normal-form and forward-only tests: tests/files_urls.py plus these."""

from __future__ import annotations

from django.core.files.storage import InMemoryStorage, Storage, storages
from django.urls import path
from rest_framework.permissions import AllowAny

from django_bearer_guard.views import ProtectedFileView
from tests.files.storages import ForwardOnlyStorage
from tests.files_urls import READ
from tests.files_urls import urlpatterns as file_urlpatterns

_memory = {"storage": InMemoryStorage()}
ALLOWED: list[str] = []
"""The ``allowed_issuers`` of the ``partner*`` routes: tests fill it in place."""
STORAGE_CALLS: list[str] = []


def memory() -> Storage:
    return _memory["storage"]


def fresh_memory() -> InMemoryStorage:
    """Replace the in-memory storage of the ``mem-*`` routes with an empty one."""
    _memory["storage"] = InMemoryStorage()
    return _memory["storage"]


def counted() -> Storage:
    STORAGE_CALLS.append("protected")
    return storages["protected"]


def forward_only() -> ForwardOnlyStorage:
    return ForwardOnlyStorage(storages["protected"].path("public"))


def forward_unmarked() -> ForwardOnlyStorage:
    return ForwardOnlyStorage(storages["protected"].path("public"), marked=False)


urlpatterns = [
    *file_urlpatterns,
    path("mem-tenant/<path:path>", ProtectedFileView.as_view(storage=memory, root="tenants/{claims.tenant}")),
    path("mem-sub/<path:path>", ProtectedFileView.as_view(storage=memory, root="tenants/{claims.sub}")),
    path(
        "mem-by-issuer/<path:path>",
        ProtectedFileView.as_view(storage=memory, root="tenants/{issuer}/{claims.tenant}"),
    ),
    path(
        "by-issuer/<path:path>",
        ProtectedFileView.as_view(storage="protected", root="tenants/{issuer}/{claims.tenant}"),
    ),
    path(
        "partner/<path:path>",
        ProtectedFileView.as_view(storage=counted, root="public", required_scopes=READ, allowed_issuers=ALLOWED),
    ),
    path(
        "partner-open/<path:path>",
        ProtectedFileView.as_view(
            storage=counted, root="public", permission_classes=[AllowAny], allowed_issuers=ALLOWED
        ),
    ),
    path(
        "partner-anonymous/<path:path>",
        ProtectedFileView.as_view(
            storage=counted,
            root="public",
            permission_classes=[AllowAny],
            authentication_classes=[],
            allowed_issuers=ALLOWED,
        ),
    ),
    path(
        "one-issuer-tenant/<path:path>",
        ProtectedFileView.as_view(
            storage="protected", root="tenants/{claims.tenant}", allowed_issuers=["https://only.example/"]
        ),
    ),
    path("forward/<path:path>", ProtectedFileView.as_view(storage=forward_only, required_scopes=READ)),
    path("forward-unmarked/<path:path>", ProtectedFileView.as_view(storage=forward_unmarked, required_scopes=READ)),
]
