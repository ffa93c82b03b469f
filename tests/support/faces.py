"""What the three faces (DRF, ``bearer_required``, django-ninja) answer, for tests comparing them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.test import override_settings

HANDLER = "django_bearer_guard.exceptions.exception_handler"


@contextmanager
def library_exception_handler() -> Iterator[None]:
    """The DRF twins answer with the library's exception handler, as the docs advise."""
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "EXCEPTION_HANDLER": HANDLER}):
        yield


def answer(response: Any) -> tuple[int, Any, str | None]:
    """Status, JSON body and challenge: what must be equal across the faces."""
    return response.status_code, response.json(), response.get("WWW-Authenticate")


def assert_async_answers(idp: Any, path: str) -> None:
    """Through Django's ``AsyncClient``: 200 with the scope, 403 without, 401 without a token."""
    import asyncio

    from django.test import AsyncClient

    async def calls() -> list[Any]:
        client = AsyncClient()
        return [
            await client.get(path, headers={"Authorization": f"Bearer {idp.mint(scope='reports:read')}"}),
            await client.get(path, headers={"Authorization": f"Bearer {idp.mint()}"}),
            await client.get(path),
        ]

    ok, forbidden, missing = asyncio.run(calls())
    assert ok.status_code == 200 and ok.json() == {"report": "ok"}
    assert forbidden.status_code == 403 and forbidden.json()["error"] == "insufficient_scope"
    assert missing.status_code == 401 and missing["WWW-Authenticate"] == 'Bearer realm="api"'
