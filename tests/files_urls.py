"""Routes for the file view's tests and benchmark (storage alias "protected": see tests/files/conftest.py)."""

from __future__ import annotations

from django.core.files.storage import storages
from django.http import FileResponse, HttpRequest
from django.urls import path
from rest_framework.permissions import AllowAny

from django_bearer_guard.views import ProtectedFileView
from tests.files.storages import StreamingFileStorage, memory, memory_without_times

READ = ["files:read"]


def bare(request: HttpRequest, path: str) -> FileResponse:
    """The baseline the benchmark compares with: Django's FileResponse, no checks."""
    location = storages["protected"].path("")
    return FileResponse(open(f"{location}/public/{path}", "rb"))


def bare_stream(request: HttpRequest, path: str) -> FileResponse:
    """The same baseline for a file without ``fileno``: Django's default 4 KiB blocks."""
    return FileResponse(streaming().open(f"public/{path}"))


def streaming() -> StreamingFileStorage:
    return StreamingFileStorage(location=storages["protected"].path(""))


urlpatterns = [
    path(
        "files/<path:path>",
        ProtectedFileView.as_view(storage="protected", root="public", required_scopes=READ),
    ),
    path("whole/<path:path>", ProtectedFileView.as_view(storage="protected", required_scopes=READ)),
    path(
        "stream/<path:path>",
        ProtectedFileView.as_view(storage=streaming, root="public", required_scopes=READ),
    ),
    path("tenant/<path:path>", ProtectedFileView.as_view(storage="protected", root="tenants/{claims.tenant}")),
    path("workload/<path:path>", ProtectedFileView.as_view(storage="protected", root="workloads/{workload}")),
    path("memory/<path:path>", ProtectedFileView.as_view(storage=memory, required_scopes=READ)),
    path("timeless/<path:path>", ProtectedFileView.as_view(storage=memory_without_times)),
    path("pdf/<path:path>", ProtectedFileView.as_view(storage="protected", root="public", extensions=[".pdf"])),
    path("hidden/<path:path>", ProtectedFileView.as_view(storage="protected", root="public", allow_hidden=True)),
    path(
        "inline/<path:path>",
        ProtectedFileView.as_view(storage="protected", root="public", as_attachment=False),
    ),
    path(
        "accel/<path:path>",
        ProtectedFileView.as_view(
            storage="protected", root="public", offload="x-accel-redirect", offload_prefix="/internal/"
        ),
    ),
    path(
        "sendfile/<path:path>",
        ProtectedFileView.as_view(storage="protected", root="public", offload="x-sendfile"),
    ),
    path("sendfile-memory/<path:path>", ProtectedFileView.as_view(storage=memory, offload="x-sendfile")),
    path(
        "open/<path:path>",
        ProtectedFileView.as_view(
            storage="protected", root="public", permission_classes=[AllowAny], authentication_classes=[]
        ),
    ),
    path(
        "open-workload/<path:path>",
        ProtectedFileView.as_view(
            storage="protected",
            root="workloads/{workload}",
            permission_classes=[AllowAny],
            authentication_classes=[],
        ),
    ),
    path("bare/<path:path>", bare),
    path("bare-stream/<path:path>", bare_stream),
]
