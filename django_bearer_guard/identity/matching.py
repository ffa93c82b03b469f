"""Workload patterns: which workload identifiers a view's ``allowed_workloads`` admits."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["workload_allowed"]


def _under(workload: str, base: str) -> bool:
    base_parts = base.split("/")
    parts = workload.split("/")
    rest = parts[len(base_parts) :]
    # Compared by path component, never by string prefix: ".../prod/*" does not admit ".../production".
    # Empty, "." and ".." segments (invalid in SPIFFE IDs) could smuggle a path out of the base.
    clean = all(part not in ("", ".", "..") for part in rest)
    return parts[: len(base_parts)] == base_parts and bool(rest) and clean


def workload_allowed(workload: str | None, allowed: Iterable[str]) -> bool:
    """True when ``workload`` equals an entry of ``allowed`` or lies below an entry ending in ``/*``.

    ``"spiffe://example.org/ns/prod/*"`` admits ``spiffe://example.org/ns/prod/sa/api`` but not
    ``spiffe://example.org/ns/prod`` itself, nor ``spiffe://example.org/ns/production/x``.
    """
    if workload is None:
        return False
    for entry in allowed:
        if entry.endswith("/*"):
            if _under(workload, entry[:-2]):
                return True
        elif workload == entry:
            return True
    return False
