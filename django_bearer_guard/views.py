"""``ProtectedFileView``: files from any Django storage, for callers whose token allows it;
``ProtectedResourceMetadataView``: this API's RFC 9728 metadata document.

``ProtectedFileView.as_view(storage=..., root="...", required_scopes=[...])`` routed with
``<path:path>``. Denials: a path that breaks the path policy is 400 ``invalid_request``; a
well-formed name that this view does not serve (absent, a directory, hidden, another
extension, a symlink out of the root) is 404; a per-caller root the token cannot fill is 403
``insufficient_scope``; a token of an issuer outside ``allowed_issuers`` is 403
``access_denied``. Every denial is logged on ``django_bearer_guard``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage, storages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.views import View
from rest_framework.exceptions import APIException, NotAuthenticated, NotFound
from rest_framework.request import Request
from rest_framework.views import APIView

from django_bearer_guard._drf import check_issuer_allowed, parse_allowed_issuers, token_exception
from django_bearer_guard._resource_document import metadata_document
from django_bearer_guard.exceptions import BearerGuardError, FileMissing
from django_bearer_guard.files.paths import check_policy, contain, render_root, root_fields
from django_bearer_guard.files.responses import (
    BLOCK_SIZE,
    BoundedReader,
    RangeStream,
    content_disposition,
    content_type,
    plan_response,
    seekable,
)
from django_bearer_guard.files.storage import OpenedFile, open_file
from django_bearer_guard.permissions import HasScopes
from django_bearer_guard.runtime import get_runtime
from django_bearer_guard.tokens.verified import VerifiedToken

if TYPE_CHECKING:
    from rest_framework.views import AsView, GenericView

__all__ = ["ProtectedFileView", "ProtectedResourceMetadataView"]

logger = logging.getLogger("django_bearer_guard")
_OFFLOAD_MODES = (None, "x-accel-redirect", "x-sendfile")


def _check_config(values: dict[str, Any]) -> None:
    if values["storage"] is None:
        raise ImproperlyConfigured("ProtectedFileView needs storage= (a Storage, callable or STORAGES alias)")
    if values["offload"] not in _OFFLOAD_MODES:
        raise ImproperlyConfigured(f"ProtectedFileView offload= must be one of {_OFFLOAD_MODES}")
    try:
        root_fields(values["root"])
    except ValueError as exc:
        raise ImproperlyConfigured(f"ProtectedFileView root=: {exc}") from None
    try:
        parse_allowed_issuers(values["allowed_issuers"])
    except TypeError:
        raise ImproperlyConfigured("ProtectedFileView allowed_issuers= is a list of exact 'iss' values") from None
    extensions = values["extensions"]
    if extensions is not None and any(not ext.startswith(".") or ext != ext.lower() for ext in extensions):
        raise ImproperlyConfigured("ProtectedFileView extensions= are lower-case suffixes with the dot")


class ProtectedFileView(APIView):
    """Serve ``path`` from ``storage`` under ``root`` (streamed, HEAD, Range, 304, offload).

    ``storage`` is a :class:`~django.core.files.storage.Storage`, a callable returning one
    (called per request) or a ``STORAGES`` alias; ``root`` a storage name, optionally with
    ``{issuer}``, ``{workload}`` or ``{claims.<name>}`` placeholders; ``allowed_issuers`` (exact
    ``iss`` values; default: every trusted issuer) limits whose tokens it serves;
    ``allow_hidden`` serves dot-names; ``extensions`` (e.g. ``[".pdf"]``) limits what is served;
    ``offload`` is
    ``"x-accel-redirect"`` (answering with ``offload_prefix`` + name for nginx) or
    ``"x-sendfile"`` (the real path, filesystem storages only).
    """

    storage: Storage | Callable[[], Storage] | str | None = None
    root: str = ""
    required_scopes: Sequence[str] = ()
    allowed_issuers: Collection[str] | None = None
    allow_hidden: bool = False
    extensions: Sequence[str] | None = None
    as_attachment: bool = True
    offload: str | None = None
    offload_prefix: str = "/protected/"
    block_size: int = BLOCK_SIZE
    permission_classes = [HasScopes]

    @classmethod
    def as_view(cls, **initkwargs: Any) -> AsView[GenericView]:
        """The view function; misconfiguration raises ``ImproperlyConfigured`` here, not per request."""
        names = ("storage", "offload", "root", "extensions", "allowed_issuers")
        _check_config({name: initkwargs.get(name, getattr(cls, name)) for name in names})
        return super().as_view(**initkwargs)

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        """Never 406: the file is the representation, errors fall back to the first renderer."""
        return super().perform_content_negotiation(request, force=True)

    def get_storage(self) -> Storage:
        """The storage to read from, resolved per request."""
        spec = self.storage
        if isinstance(spec, str):
            return storages[spec]
        resolved = spec if isinstance(spec, Storage) else spec() if callable(spec) else None
        if not isinstance(resolved, Storage):
            raise ImproperlyConfigured(f"ProtectedFileView storage resolved to {type(resolved).__name__}")
        return resolved

    def check_permissions(self, request: Request) -> None:
        """Check the permission classes and ``allowed_issuers``; log a refusal (401 or 403)."""
        try:
            super().check_permissions(request)
            # An issuer speaks only for itself, whatever permission_classes the view was given.
            if self.allowed_issuers is not None:
                token = request.auth
                if not isinstance(token, VerifiedToken):
                    # RFC 6750 §3.1: no bearer credentials is a 401 with the bare challenge.
                    raise NotAuthenticated
                check_issuer_allowed(self, token)
        except APIException as denied:
            self._log(request, f"not permitted ({denied.status_code})")
            raise

    def get(self, request: Request, path: str) -> HttpResponseBase:
        """Answer GET and HEAD for ``path``."""
        token = request.auth
        claims = getattr(token, "claims", {})
        try:
            root = render_root(self.root, claims, getattr(token, "workload", None), getattr(token, "issuer", None))
            relative = contain(path)
            check_policy(relative, allow_hidden=self.allow_hidden, extensions=self._extensions())
            opened = open_file(self.get_storage(), contain(relative, root), root)
            self._check_resolved(relative, opened)
        except BearerGuardError as error:
            self._log(request, error.reason)
            raise token_exception(error, token) from None
        except FileMissing as missing:
            self._log(request, missing.reason)
            raise NotFound from None
        return self._respond(request, relative, opened)

    def _check_resolved(self, relative: str, opened: OpenedFile) -> None:
        # A symlink inside the root must not reach a hidden name or another extension.
        target = opened.resolved_name
        if target is None or target == relative:
            return
        try:
            check_policy(target, allow_hidden=self.allow_hidden, extensions=self._extensions())
        except (BearerGuardError, FileMissing):
            opened.file.close()
            raise FileMissing(f"{relative!r} resolves to {target!r}, which the policy refuses") from None

    def _extensions(self) -> frozenset[str] | None:
        return None if self.extensions is None else frozenset(self.extensions)

    def _log(self, request: Request, reason: str) -> None:
        token = request.auth
        raw = request.META.get("RAW_URI") or request.META.get("REQUEST_URI") or request.get_full_path()
        logger.info(
            "file request denied: %s workload=%r path=%r raw=%r",
            reason,
            getattr(token, "workload", None),
            self.kwargs.get("path"),
            raw,
        )

    def _respond(self, request: Request, name: str, opened: OpenedFile) -> HttpResponseBase:
        # Forward-only streams (no seek/tell) get the whole body: Range is ignored, never a 500.
        forward_only = not seekable(opened.file)
        plan = plan_response(request.method or "GET", request.headers, opened.info, ranges=not forward_only)
        headers = {
            **plan.headers,
            "Content-Type": content_type(name),
            # Stops browsers from sniffing an uploaded file into HTML or script.
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": content_disposition(name, attachment=self.as_attachment),
        }
        response: HttpResponseBase
        if plan.status in (304, 412):
            opened.file.close()
            response = HttpResponse(status=plan.status)
            headers = {k: v for k, v in plan.headers.items() if k in ("ETag", "Last-Modified")}
        elif self.offload is not None and plan.status != 416:
            opened.file.close()
            response = HttpResponse()
            headers.pop("Content-Length", None)
            headers.pop("Content-Range", None)
            headers.update(self._offload_header(opened))
        elif request.method == "HEAD" or plan.status == 416:
            opened.file.close()
            response = HttpResponse(status=plan.status)
        elif forward_only:
            response = StreamingHttpResponse(RangeStream(opened.file, opened.info.size, self.block_size))
        elif plan.range is None or plan.range.end == plan.range.size - 1:
            if plan.range is not None:
                opened.file.seek(plan.range.start)
            # A real file lets the server's wsgi.file_wrapper use sendfile; the bounded reader
            # keeps a growing file from running past Content-Length (response desync).
            length = plan.range.length if plan.range is not None else opened.info.size
            response = FileResponse(BoundedReader(opened.file, length), status=plan.status)
            response.block_size = self.block_size
        else:
            opened.file.seek(plan.range.start)
            stream = RangeStream(opened.file, plan.range.length, self.block_size)
            response = StreamingHttpResponse(stream, status=206)
        for key, value in headers.items():
            response[key] = value
        return response

    def _offload_header(self, opened: OpenedFile) -> dict[str, str]:
        if self.offload == "x-sendfile":
            if opened.real_path is None:
                raise ImproperlyConfigured("offload='x-sendfile' needs a storage with local paths")
            # Percent-encoded (mod_xsendfile unescapes it by default): no CR/LF or non-ASCII
            # byte ever reaches the header.
            return {"X-Sendfile": quote(opened.real_path)}
        return {"X-Accel-Redirect": self.offload_prefix.rstrip("/") + "/" + quote(opened.offload_name())}


class ProtectedResourceMetadataView(View):
    """RFC 9728 protected resource metadata, at the URL derived from ``RESOURCE_METADATA['resource']``.

    Mounted at the site root by ``include("django_bearer_guard.urls")``. It answers only at the
    path of that URL (``/.well-known/oauth-protected-resource`` followed by the resource's own
    path, §3.1) and 404 anywhere else, or while ``RESOURCE_METADATA`` is off or invalid. No
    token is needed: the document is public and ``max_age`` seconds cacheable.
    """

    http_method_names = ["get", "head"]
    max_age = 3600

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """The metadata document as JSON."""
        runtime = get_runtime()
        metadata = runtime.settings.resource_metadata
        # The full path the client asked for: an include under a prefix serves nothing.
        if metadata is None or request.path != unquote(metadata.path):
            raise Http404("no protected resource metadata here")
        document = metadata_document(metadata, runtime.settings, runtime.issuers.all_issuers())
        response = HttpResponse(json.dumps(document, indent=2).encode(), content_type="application/json")
        response["Cache-Control"] = f"public, max-age={self.max_age}"
        # A public document without credentials: browser clients on any origin may read it.
        response["Access-Control-Allow-Origin"] = "*"
        return response
