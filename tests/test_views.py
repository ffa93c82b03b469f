from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.core.checks import Warning
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage
from django.test import Client
from pytest_django import Settings

from django_bearer_guard.checks import check_file_roots
from django_bearer_guard.models import TrustedIssuer
from django_bearer_guard.views import ProtectedFileView
from tests.files.fixtures import AWKWARD, Store, bearer, store
from tests.files.storages import MemoryStorage, memory, memory_without_times

__all__ = ["bearer", "store"]  # fixtures


def body(response: Any) -> bytes:
    # The test client closes a streamed response (and its file) once it is read to the end.
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def get(client: Client, store: Store, bearer: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
    def fetch(url: str, claims: dict[str, Any] | None = None, **headers: Any) -> Any:
        return client.get(url, **bearer(**(claims or {})), **headers)

    return fetch


def test_serves_a_file_with_safe_headers(get: Callable[..., Any]) -> None:
    response = get("/files/hello.txt")
    assert response.status_code == 200
    assert body(response) == b"hello world\n"
    assert response["Content-Type"] == "text/plain"
    assert response["Content-Length"] == "12"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Disposition"] == "attachment; filename=\"hello.txt\"; filename*=UTF-8''hello.txt"
    assert response["ETag"].startswith('"c-')
    assert "Last-Modified" in response


def test_serves_html_as_an_attachment_never_sniffed(get: Callable[..., Any]) -> None:
    response = get("/files/page.html")
    assert body(response) == b"<script>alert(1)</script>"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_inline_disposition_when_configured(get: Callable[..., Any]) -> None:
    response = get("/inline/hello.txt")
    body(response)
    assert response["Content-Disposition"].startswith("inline;")


@pytest.mark.parametrize("name", sorted(AWKWARD))
def test_serves_awkward_names(get: Callable[..., Any], name: str) -> None:
    response = get("/files/" + name)
    assert response.status_code == 200
    assert body(response) == AWKWARD[name]


def test_head_sends_headers_without_a_body(client: Client, store: Store, bearer: Callable[..., dict[str, Any]]) -> None:
    response = client.head("/files/data.bin", **bearer())
    assert response.status_code == 200
    assert response["Content-Length"] == "1024"
    assert response.content == b""


def test_range_serves_the_requested_bytes(get: Callable[..., Any]) -> None:
    response = get("/files/data.bin", HTTP_RANGE="bytes=10-19")
    assert response.status_code == 206
    assert body(response) == bytes(range(10, 20))
    assert response["Content-Range"] == "bytes 10-19/1024"
    assert response["Content-Length"] == "10"


def test_range_to_the_end_resumes_a_download(get: Callable[..., Any]) -> None:
    response = get("/files/data.bin", HTTP_RANGE="bytes=1000-")
    assert response.status_code == 206
    assert body(response) == (bytes(range(256)) * 4)[1000:]
    assert response["Content-Range"] == "bytes 1000-1023/1024"


def test_suffix_range(get: Callable[..., Any]) -> None:
    response = get("/files/data.bin", HTTP_RANGE="bytes=-4")
    assert body(response) == bytes([252, 253, 254, 255])


def test_unsatisfiable_range_is_416(get: Callable[..., Any]) -> None:
    response = get("/files/data.bin", HTTP_RANGE="bytes=5000-")
    assert response.status_code == 416
    assert response["Content-Range"] == "bytes */1024"
    assert response.content == b""


def test_several_ranges_get_the_whole_file(get: Callable[..., Any]) -> None:
    response = get("/files/data.bin", HTTP_RANGE="bytes=0-1,5-6")
    assert response.status_code == 200
    assert len(body(response)) == 1024


def test_if_range_with_a_stale_tag_gets_the_whole_file(get: Callable[..., Any]) -> None:
    response = get("/files/data.bin", HTTP_RANGE="bytes=0-1", HTTP_IF_RANGE='"stale"')
    assert response.status_code == 200
    assert len(body(response)) == 1024


def test_conditional_get_answers_304(get: Callable[..., Any]) -> None:
    first = get("/files/hello.txt")
    body(first)
    again = get("/files/hello.txt", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert again["ETag"] == first["ETag"]
    assert again.content == b""
    since = get("/files/hello.txt", HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert since.status_code == 304


def test_failed_precondition_answers_412(get: Callable[..., Any]) -> None:
    response = get("/files/hello.txt", HTTP_IF_MATCH='"other"')
    assert response.status_code == 412


def test_empty_file(get: Callable[..., Any]) -> None:
    response = get("/files/empty.txt")
    assert response.status_code == 200
    assert body(response) == b""


def test_traversal_is_400_without_a_hint(get: Callable[..., Any]) -> None:
    inside = get("/files/../secret.txt")
    nowhere = get("/files/../no-such-file.txt")
    assert inside.status_code == nowhere.status_code == 400
    assert inside.content == nowhere.content
    assert inside.json()["error"] == "invalid_request"
    assert 'error="invalid_request"' in inside["WWW-Authenticate"]


@pytest.mark.parametrize(
    "url",
    [
        "/files/missing.txt",
        "/files/subdir",
        "/files/link-out.txt",
        "/files/dir-out/secret.txt",
        "/files/pipe",
        "/files/.env",
        "/files/.git/config",
        "/pdf/hello.txt",
    ],
)
def test_names_not_served_are_404(get: Callable[..., Any], url: str) -> None:
    response = get(url)
    assert response.status_code == 404


def test_policies_allow_what_they_name(get: Callable[..., Any]) -> None:
    assert body(get("/pdf/doc.pdf")) == b"%PDF-1.7 fake\n"
    assert body(get("/hidden/.env")) == b"hidden\n"


def test_symlink_inside_the_root_is_served(get: Callable[..., Any]) -> None:
    response = get("/files/link-in.txt")
    assert body(response) == b"hello world\n"
    assert response["Content-Disposition"].endswith("''link-in.txt")


def test_missing_token_is_401(client: Client, store: Store) -> None:
    response = client.get("/files/hello.txt")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_missing_scope_is_403_insufficient_scope(get: Callable[..., Any], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="django_bearer_guard"):
        response = get("/files/hello.txt", claims={"scope": "other", "sub": "svc-x"})
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert any("'svc-x'" in record.getMessage() and "hello.txt" in record.getMessage() for record in caplog.records)


def test_denials_are_logged_with_workload_and_raw_path(
    get: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="django_bearer_guard"):
        get("/files/%2e%2e/secret.txt", claims={"sub": "svc-y"})
        get("/files/missing.txt", claims={"sub": "svc-y"})
    messages = [r.getMessage() for r in caplog.records if r.name == "django_bearer_guard"]
    assert any("workload='svc-y'" in m and "path='../secret.txt'" in m for m in messages)
    assert any("workload='svc-y'" in m and "missing.txt" in m for m in messages)


def test_per_tenant_root(get: Callable[..., Any]) -> None:
    assert body(get("/tenant/report.txt", claims={"tenant": "acme"})) == b"acme report\n"
    assert get("/tenant/secret.txt", claims={"tenant": "acme"}).status_code == 404


@pytest.mark.parametrize("tenant", ["..", "other/..", ".git", None, 7.5, "a\\b"])
def test_per_tenant_root_refuses_unsafe_claims(get: Callable[..., Any], tenant: object) -> None:
    response = get("/tenant/report.txt", claims={"tenant": tenant})
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"


def test_per_workload_root(get: Callable[..., Any]) -> None:
    assert body(get("/workload/a.txt", claims={"sub": "svc-a"})) == b"svc-a file\n"
    assert get("/workload/a.txt", claims={"sub": "svc-b"}).status_code == 404


def test_per_workload_root_without_a_token_reaches_nothing(client: Client, store: Store) -> None:
    assert client.get("/open-workload/a.txt").status_code == 403
    response = client.get("/open/hello.txt")
    assert body(response) == b"hello world\n"


def test_storage_without_paths(get: Callable[..., Any]) -> None:
    memory.files = {"docs/a.txt": b"in memory"}
    response = get("/memory/docs/a.txt", HTTP_RANGE="bytes=3-")
    assert response.status_code == 206
    assert body(response) == b"memory"
    assert response["ETag"]
    partial = get("/memory/docs/a.txt", HTTP_RANGE="bytes=0-1")
    assert body(partial) == b"in"
    assert get("/memory/docs/b.txt").status_code == 404


def test_storage_without_times_has_no_validators(get: Callable[..., Any]) -> None:
    memory_without_times.files = {"a.txt": b"abc"}
    response = get("/timeless/a.txt")
    assert body(response) == b"abc"
    assert "ETag" not in response
    assert "Last-Modified" not in response


def test_storage_streamed_without_fileno(get: Callable[..., Any]) -> None:
    response = get("/stream/data.bin")
    assert body(response) == bytes(range(256)) * 4


def test_x_accel_redirect_offload(get: Callable[..., Any]) -> None:
    response = get("/accel/\u00fcn\u00efc\u00f6d\u00e9.txt", HTTP_RANGE="bytes=0-1")
    assert response.status_code == 200
    assert response.content == b""
    assert response["X-Accel-Redirect"] == "/internal/public/%C3%BCn%C3%AFc%C3%B6d%C3%A9.txt"
    assert response.get("Content-Length", "0") == "0"
    assert "Content-Range" not in response
    assert response["ETag"]
    link = get("/accel/link-in.txt")
    assert link["X-Accel-Redirect"] == "/internal/public/hello.txt"
    assert get("/accel/missing.txt").status_code == 404


def test_x_sendfile_offload(get: Callable[..., Any], store: Store) -> None:
    response = get("/sendfile/hello.txt")
    assert response["X-Sendfile"] == str((store.public / "hello.txt").resolve())
    assert response.content == b""


def test_x_sendfile_needs_local_paths(get: Callable[..., Any]) -> None:
    memory.files = {"a.txt": b"abc"}
    with pytest.raises(ImproperlyConfigured):
        get("/sendfile-memory/a.txt")


def test_accept_header_never_gives_406(get: Callable[..., Any]) -> None:
    response = get("/files/hello.txt", HTTP_ACCEPT="application/pdf")
    assert body(response) == b"hello world\n"


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"storage": "protected", "offload": "x-nginx"},
        {"storage": "protected", "root": "../up"},
        {"storage": "protected", "root": "{user}"},
        {"storage": "protected", "extensions": ["pdf"]},
        {"storage": "protected", "extensions": [".PDF"]},
        {"storage": "protected", "allowed_issuers": "https://idp.example.com/"},
        {"storage": "protected", "allowed_issuers": ["https://idp.example.com/", ""]},
        {"storage": "protected", "allowed_issuers": [None]},
        {"storage": "protected", "root": "tenants/{issuer.name}"},
    ],
)
def test_as_view_refuses_misconfiguration(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ImproperlyConfigured):
        ProtectedFileView.as_view(**kwargs)


def test_get_storage_resolves_every_spec(store: Store) -> None:
    instance = FileSystemStorage(location=store.location)
    assert ProtectedFileView(storage=instance).get_storage() is instance
    assert ProtectedFileView(storage=lambda: instance).get_storage() is instance
    assert isinstance(ProtectedFileView(storage=MemoryStorage).get_storage(), MemoryStorage)
    assert ProtectedFileView(storage="protected").get_storage().path("") == str(store.location)
    with pytest.raises(ImproperlyConfigured):
        ProtectedFileView(storage=lambda: "not a storage").get_storage()
    with pytest.raises(ImproperlyConfigured):
        ProtectedFileView(storage=42).get_storage()


def _issuer(name: str) -> dict[str, object]:
    return {
        "issuer": f"https://{name}.example/",
        "audiences": ["https://api.example"],
        "algorithms": ["RS256"],
        "jwks_uri": f"https://{name}.example/jwks",
    }


def _w006_routes(**kwargs: Any) -> set[str]:
    return {m.msg.split("'")[1] for m in check_file_roots(**kwargs) if m.id == "bearer_guard.W006"}


PER_CALLER_ROUTES = {
    "tenant/<path:path>",
    "workload/<path:path>",
    "open-workload/<path:path>",
    "mem-tenant/<path:path>",
    "mem-sub/<path:path>",
}


def test_check_file_roots_warns_about_bare_claim_roots_while_several_issuers_are_trusted(settings: Settings) -> None:
    settings.ROOT_URLCONF = "tests.files.issuer_urls"
    settings.BEARER_GUARD = {"ISSUERS": [_issuer("a"), _issuer("b")]}
    messages = [m for m in check_file_roots() if m.id == "bearer_guard.W006"]
    # {issuer} in the root, or allowed_issuers naming one issuer, keep callers of issuers apart.
    assert {m.msg.split("'")[1] for m in messages} == PER_CALLER_ROUTES
    assert all(isinstance(m, Warning) and "2 issuers are trusted (settings)" in m.msg for m in messages)
    assert messages[0].hint is not None
    assert "{issuer}" in messages[0].hint


def test_check_file_roots_is_quiet_with_one_issuer(settings: Settings) -> None:
    settings.ROOT_URLCONF = "tests.files.issuer_urls"
    settings.BEARER_GUARD = {"ISSUERS": [_issuer("a")]}
    assert _w006_routes() == set()


@pytest.mark.django_db
def test_check_file_roots_counts_trusted_issuer_rows_when_given_the_database(settings: Settings) -> None:
    settings.ROOT_URLCONF = "tests.files.issuer_urls"
    settings.BEARER_GUARD = {"ISSUERS": [_issuer("a")]}
    TrustedIssuer.objects.create(**_issuer("b"))
    assert _w006_routes() == set()
    assert _w006_routes(databases=["default"]) == PER_CALLER_ROUTES


@pytest.mark.django_db  # Django 6.1 hands every database to the checks
def test_check_file_roots_is_registered_with_the_view_checks(settings: Settings) -> None:
    from django.core.checks import run_checks

    settings.ROOT_URLCONF = "tests.files.issuer_urls"
    settings.BEARER_GUARD = {"ISSUERS": [_issuer("a"), _issuer("b")]}
    assert "bearer_guard.W006" in {m.id for m in run_checks(tags=["urls"])}
