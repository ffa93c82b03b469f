"""One URL per variant of bench.common.variants(), and the file views of bench_files.py."""

from __future__ import annotations

from django.urls import path
from rest_framework.permissions import AllowAny

from bench.common import variants
from bench.views import answer
from django_bearer_guard.views import ProtectedFileView
from tests.files_urls import bare, bare_stream, streaming

READ = ["files:read"]

urlpatterns = [
    *(path(variant.path.lstrip("/"), answer(variant.kind, variant.alg))
      for variant in {v.path: v for v in variants()}.values()),
    # Files: FileSystemStorage (sendfile) and a storage whose files have no fileno, each beside
    # Django's FileResponse on the same storage (tests.files_urls); "open" skips authentication.
    path("files/<path:path>", ProtectedFileView.as_view(storage="protected", root="public", required_scopes=READ)),
    path("stream/<path:path>", ProtectedFileView.as_view(storage=streaming, root="public", required_scopes=READ)),
    path("open/<path:path>", ProtectedFileView.as_view(
        storage="protected", root="public", permission_classes=[AllowAny], authentication_classes=[])),
    path("bare/<path:path>", bare),
    path("bare-stream/<path:path>", bare_stream),
]
