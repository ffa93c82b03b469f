"""The import contract: every import of the package points down the request path.

``STAGES`` is the module map from the bottom up. A module may import only modules listed
before it (lazy imports inside functions and ``TYPE_CHECKING`` imports count too); ``jose/``
imports no Django; only the faces import DRF or ``django.http``. Every module of the package
must be listed, so a new one takes its place in the map.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

import django_bearer_guard

PACKAGE = "django_bearer_guard"
ROOT = Path(django_bearer_guard.__file__).parent

STAGES: tuple[str, ...] = (
    # Plain helpers, the error tree and the signals: no stage of their own.
    "django_bearer_guard",
    "django_bearer_guard._clock",
    "django_bearer_guard._expiring",
    "django_bearer_guard._json",
    "django_bearer_guard._urls",
    "django_bearer_guard.challenges",
    "django_bearer_guard.exceptions",
    "django_bearer_guard.signals",
    # JOSE without Django: algorithms, keys, compact serialisation.
    "django_bearer_guard.jose.algorithms",
    "django_bearer_guard.jose.keyset",
    "django_bearer_guard.jose.compact",
    "django_bearer_guard.jose",
    "django_bearer_guard._http",
    # Configuration.
    "django_bearer_guard.issuers.profiles",
    "django_bearer_guard.issuers.tenants",
    "django_bearer_guard.issuers.config",
    "django_bearer_guard._resource",
    "django_bearer_guard.conf",
    "django_bearer_guard._shared",
    # Keys of an issuer.
    "django_bearer_guard.jwks.discovery",
    "django_bearer_guard.jwks.fetch",
    "django_bearer_guard.jwks.cache",
    "django_bearer_guard.jwks.refresh",
    "django_bearer_guard.jwks.health",
    "django_bearer_guard.jwks",
    # Which issuers are trusted.
    "django_bearer_guard.issuers.registry",
    "django_bearer_guard.models",
    "django_bearer_guard.issuers.database",
    "django_bearer_guard.issuers",
    "django_bearer_guard.runtime",
    # From a credential to a verified token.
    "django_bearer_guard.tokens.credentials",
    "django_bearer_guard.tokens.verified",
    "django_bearer_guard.tokens.trace",
    "django_bearer_guard.tokens.claims",
    "django_bearer_guard.tokens.levels",
    "django_bearer_guard.tokens.scopes",
    "django_bearer_guard.tokens.workloads",
    "django_bearer_guard.tokens.validator",
    "django_bearer_guard.tokens",
    # Who the caller is.
    "django_bearer_guard.identity.matching",
    "django_bearer_guard.identity.transport",
    "django_bearer_guard.identity.dpop",
    "django_bearer_guard.identity.binding",
    "django_bearer_guard.identity.principal",
    "django_bearer_guard.identity",
    # Files.
    "django_bearer_guard.files.ranges",
    "django_bearer_guard.files.paths",
    "django_bearer_guard.files.storage",
    "django_bearer_guard.files.responses",
    "django_bearer_guard.files",
    # The faces.
    "django_bearer_guard._routes",
    "django_bearer_guard._declarations",
    "django_bearer_guard._refusals",
    "django_bearer_guard._authenticate",
    "django_bearer_guard._drf",
    "django_bearer_guard._exception_handler",
    "django_bearer_guard.authentication",
    "django_bearer_guard.permissions",
    "django_bearer_guard.throttling",
    "django_bearer_guard._resource_document",
    "django_bearer_guard.views",
    "django_bearer_guard.urls",
    "django_bearer_guard.decorators",
    # The token checker: the validator with a trace, and the views' declared scopes.
    "django_bearer_guard.checker",
    "django_bearer_guard.contrib",
    "django_bearer_guard.contrib.spectacular",
    "django_bearer_guard.contrib.prometheus",
    "django_bearer_guard.contrib.ninja",
    "django_bearer_guard._admin_forms",
    "django_bearer_guard._admin_pages",
    "django_bearer_guard.admin",
    # Wiring: checks over the faces' declarations, helpers for tests, commands (one serves a
    # development issuer with those helpers), the app.
    "django_bearer_guard.checks",
    "django_bearer_guard.testing.keys",
    "django_bearer_guard.testing.certificates",
    "django_bearer_guard.testing.dpop",
    "django_bearer_guard.testing.dev_issuer",
    "django_bearer_guard.testing",
    "django_bearer_guard.management.*",
    "django_bearer_guard.migrations.*",
    "django_bearer_guard.apps",
)

FACES = frozenset(
    {
        "django_bearer_guard._drf",
        "django_bearer_guard._exception_handler",
        "django_bearer_guard.authentication",
        "django_bearer_guard.permissions",
        "django_bearer_guard.throttling",
        "django_bearer_guard._resource_document",
        "django_bearer_guard.views",
        "django_bearer_guard.admin",
        "django_bearer_guard._admin_forms",
        "django_bearer_guard._admin_pages",
        "django_bearer_guard.contrib.spectacular",
        "django_bearer_guard.decorators",
        "django_bearer_guard.contrib.ninja",
        "django_bearer_guard.contrib.prometheus",
        # It inspects the faces' declarations in the URLconf.
        "django_bearer_guard.checks",
    }
)
FACE_ONLY = ("rest_framework", "django.http")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_sources() -> dict[str, str]:
    return {module_name(path): path.read_text() for path in sorted(ROOT.rglob("*.py"))}


def imported_modules(name: str, source: str, known: frozenset[str]) -> Iterator[str]:
    """Every module ``source`` imports, wherever the import statement is."""
    package = name if _is_package(name, known) else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # `from package import module` imports the submodule, not what the package defines.
                submodule = f"{base}.{alias.name}"
                yield submodule if submodule in known else base


def _is_package(name: str, known: frozenset[str]) -> bool:
    return any(other.startswith(name + ".") for other in known)


def stage_of(module: str) -> int | None:
    if module in STAGES:
        return STAGES.index(module)
    for index, stage in enumerate(STAGES):
        if stage.endswith(".*") and (module == stage[:-2] or module.startswith(stage[:-1])):
            return index
    return None


def violations(sources: Mapping[str, str]) -> list[str]:
    """Every import of ``sources`` that breaks the contract, as readable lines."""
    known = frozenset(sources)
    found = [f"{name} has no place in STAGES" for name in sorted(known) if stage_of(name) is None]
    for name, source in sorted(sources.items()):
        here = stage_of(name)
        for target in sorted(set(imported_modules(name, source, known))):
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                there = stage_of(target)
                same_group = here == there and STAGES[here or 0].endswith(".*")
                if here is not None and there is not None and there >= here and not same_group:
                    found.append(f"{name} imports {target}, which comes after it")
            elif name.startswith("django_bearer_guard.jose") and target.split(".")[0] in ("django", "rest_framework"):
                found.append(f"{name} imports {target}: jose/ knows no Django")
            elif name not in FACES and any(target == f or target.startswith(f + ".") for f in FACE_ONLY):
                found.append(f"{name} imports {target}: only the faces do")
    return found


def test_every_import_points_down_the_request_path() -> None:
    assert violations(package_sources()) == []


def test_stages_name_only_modules_that_exist() -> None:
    known = package_sources()
    listed = [stage for stage in STAGES if not stage.endswith(".*")]
    assert [stage for stage in listed if stage not in known] == []
    assert len(set(STAGES)) == len(STAGES)


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        # The upward imports this contract exists to stop.
        ("django_bearer_guard.jose.keyset", "from django_bearer_guard.conf import get_settings",
         "django_bearer_guard.jose.keyset imports django_bearer_guard.conf, which comes after it"),
        ("django_bearer_guard.conf", "def f():\n    from django_bearer_guard.tokens import validator",
         "django_bearer_guard.conf imports django_bearer_guard.tokens.validator, which comes after it"),
        ("django_bearer_guard.jwks.fetch", "from ..tokens.verified import VerifiedToken",
         "django_bearer_guard.jwks.fetch imports django_bearer_guard.tokens.verified, which comes after it"),
        ("django_bearer_guard.issuers.database", "from django_bearer_guard import views",
         "django_bearer_guard.issuers.database imports django_bearer_guard.views, which comes after it"),
        ("django_bearer_guard.jose.compact", "import django.conf",
         "django_bearer_guard.jose.compact imports django.conf: jose/ knows no Django"),
        ("django_bearer_guard.tokens.validator", "from rest_framework.exceptions import APIException",
         "django_bearer_guard.tokens.validator imports rest_framework.exceptions: only the faces do"),
        ("django_bearer_guard.files.responses", "from django.http import FileResponse",
         "django_bearer_guard.files.responses imports django.http: only the faces do"),
    ],
)
def test_violations_reports_a_deliberately_wrong_import(module: str, source: str, expected: str) -> None:
    sources = package_sources()
    sources[module] = sources[module] + "\n" + source + "\n"
    assert expected in violations(sources)


def test_violations_reports_a_module_missing_from_the_map() -> None:
    sources = {**package_sources(), "django_bearer_guard.tokens.extra": ""}
    assert "django_bearer_guard.tokens.extra has no place in STAGES" in violations(sources)
