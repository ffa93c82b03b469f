"""``include("django_bearer_guard.urls")`` at the site root: the RFC 9728 metadata document.

``/.well-known/oauth-protected-resource`` serves a resource without a path, and
``/.well-known/oauth-protected-resource/<path>`` one with a path (RFC 9728 §3.1).
"""

from __future__ import annotations

from django.urls import path

from django_bearer_guard.views import ProtectedResourceMetadataView

__all__ = ["urlpatterns"]

_view = ProtectedResourceMetadataView.as_view()
_WELL_KNOWN = ".well-known/oauth-protected-resource"

urlpatterns = [
    path(_WELL_KNOWN, _view, name="bearer_guard_resource_metadata"),
    path(f"{_WELL_KNOWN}/<path:resource_path>", _view, name="bearer_guard_resource_metadata_path"),
]
