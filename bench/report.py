"""The summary of a bench/run_all.py run: targets with PASS/FAIL, tables, the docs block and the chart."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import ALGORITHMS, ROOT, variants

__all__ = ["CHART", "DOCS", "ROOT", "Target", "block", "chart", "tables", "targets", "text", "write_docs"]

DOCS = ROOT / "docs" / "performance.rst"
CHART = ROOT / "docs" / "_static" / "performance.png"
START, END = ".. bench-results-start", ".. bench-results-end"
Results = Mapping[str, Any]  # section → its JSON results; a section that failed is absent
Table = tuple[str, list[str], list[list[str]]]  # title, header, rows


def _get(results: Results, *path: str) -> Any:
    node: Any = results
    for key in path:
        if not isinstance(node, Mapping) or key not in node or node[key] is None:
            return None
        node = node[key]
    return node


def _number(value: float | None) -> float:
    return float("nan") if value is None else value


@dataclass(frozen=True)
class Target:
    """A value measured in the run, its limit, the side of the limit that passes, and a baseline to read beside it."""

    name: str
    value: float | None
    limit: float
    at_least: bool
    unit: str
    reference_name: str = ""
    reference: float | None = None

    @property
    def status(self) -> str:
        if self.value is None or math.isnan(self.value):
            return "n/a"
        return "PASS" if (self.value >= self.limit if self.at_least else self.value <= self.limit) else "FAIL"

    def show(self, value: float | None) -> str:
        if value is None or math.isnan(value):
            return "n/a"
        # A third decimal when two would round onto the limit and hide which side it is on.
        digits = 3 if value != self.limit and round(value, 2) == round(self.limit, 2) else 2
        return f"{value:.{digits}f}x" if self.unit == "x" else f"{value:.{digits}f} {self.unit}"

    @property
    def rule(self) -> str:
        return ("≥ " if self.at_least else "≤ ") + self.show(self.limit)

    @property
    def beside(self) -> str:
        return f"{self.reference_name} {self.show(self.reference)}" if self.reference_name else ""


def targets(results: Results) -> list[Target]:
    """The targets of the issue, RS256 where an algorithm matters, each from this run's numbers."""
    noauth = _get(results, "gunicorn", "ratio", "noauth") or {}
    noop = _get(results, "gunicorn", "ratio", "noop") or {}
    cpu_noauth = _get(results, "gunicorn", "cpu_ratio", "noauth") or {}
    cpu_noop = _get(results, "gunicorn", "cpu_ratio", "noop") or {}
    client = _get(results, "inprocess", "ratio", "test client") or {}
    auth = _get(results, "authenticate", "ratio_decode", "RS256") or {}
    cpu = _get(results, "jwks", "cpu_ms") or {}
    ratios = _get(results, "files", "ratios") or {}
    return [
        Target("gunicorn, distinct tokens / no authentication", noauth.get("guard-RS256-distinct"),
               0.78, True, "x", "simplejwt", noauth.get("simplejwt-RS256")),
        Target("gunicorn, same token / no-op authenticator", noop.get("guard-RS256"),
               0.95, True, "x", "simplejwt", noop.get("simplejwt-RS256")),
        Target("gunicorn worker CPU, distinct tokens / no authentication", cpu_noauth.get("guard-RS256-distinct"),
               0.78, True, "x", "simplejwt", cpu_noauth.get("simplejwt-RS256")),
        Target("gunicorn worker CPU, same token / no-op authenticator", cpu_noop.get("guard-RS256"),
               0.95, True, "x", "simplejwt", cpu_noop.get("simplejwt-RS256")),
        Target("test client, distinct tokens / no authentication", client.get("guard-RS256-distinct"),
               0.65, True, "x", "simplejwt", client.get("simplejwt-RS256")),
        Target("authenticate(), same token / jwt.decode", auth.get("authenticate(), same token"),
               0.15, False, "x", "cache off", auth.get("authenticate(), cache off")),
        Target("JWKS fetch, CPU per fetch over http", cpu.get("bearer_guard http"), 2, False, "ms",
               "PyJWKClient", cpu.get("PyJWKClient http")),
        Target("JWKS fetch, CPU per fetch over https", cpu.get("bearer_guard https"), 2, False, "ms",
               "PyJWKClient", cpu.get("PyJWKClient https")),
        Target("file view / FileResponse, sendfile", ratios.get("sendfile"), 0.95, True, "x"),
        Target("file view / FileResponse, no fileno", ratios.get("no fileno"), 0.95, True, "x"),
        Target("worker peak RSS growth, 1 GiB served", _get(results, "files", "memory", "max_growth_mib"),
               32, False, "MiB"),
    ]


def noise(results: Results) -> Table:
    """The no-op authenticator over no authentication in each mode: near 1.00x, or the run was disturbed.

    The no-op authenticator does strictly more work than no authentication, so a ratio well above
    1 (or far below) measures the machine's other work, not the variants.
    """
    rows = []
    for name, path in (("test client", ("inprocess", "ratio", "test client")), ("WSGI", ("inprocess", "ratio", "WSGI")),
                       ("gunicorn req/s", ("gunicorn", "ratio", "noauth")),
                       ("gunicorn worker CPU", ("gunicorn", "cpu_ratio", "noauth"))):
        value = (_get(results, *path) or {}).get("noop")
        verdict = "n/a" if value is None else "steady" if 0.9 <= value <= 1.08 else "disturbed: read with care"
        rows.append([name, "n/a" if value is None else f"{value:.2f}x", verdict])
    return ("Noise check: no-op authenticator / no authentication", ["measured by", "ratio", "verdict"], rows)


def _cell(value: float | None, ratio: float | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    shown = f"{value:.{digits}f}"
    return shown if ratio is None else f"{shown} ({ratio:.2f}x)"


def tables(results: Results) -> list[Table]:
    """The tables of the run: targets, requests/s per variant and mode, authenticate(), JWKS, files."""
    found: list[Table] = [("Targets", ["target", "measured", "limit", "beside it", "result"],
                           [[t.name, t.show(t.value), t.rule, t.beside, t.status] for t in targets(results)]),
                          noise(results)]
    modes = {"test client": ("inprocess", "test client", ("ratio", "test client")),
             "WSGI": ("inprocess", "WSGI", ("ratio", "WSGI")),
             "gunicorn + wrk": ("gunicorn", "per_second", ("ratio", "noauth")),
             "gunicorn, worker CPU µs": ("gunicorn", "cpu_us", ("cpu_ratio", "noauth"))}
    rows = []
    for variant in variants():
        rows.append([variant.label] + [
            _cell((_get(results, section, values) or {}).get(variant.key),
                  (_get(results, section, *ratio) or {}).get(variant.key))
            for section, values, ratio in modes.values()])
    found.append(("Requests per second, in process per CPU second (x no authentication)", ["variant", *modes], rows))
    auth = _get(results, "authenticate", "authenticate_us") or {}
    ratio = _get(results, "authenticate", "ratio_decode") or {}
    names = list(next(iter(auth.values()), {}))
    found.append(("authenticate(), µs per call (x jwt.decode)", ["", *ALGORITHMS], [
        [name] + [_cell(auth.get(alg, {}).get(name), ratio.get(alg, {}).get(name), 1) for alg in ALGORITHMS]
        for name in names]))
    cpu = _get(results, "jwks", "cpu_ms") or {}
    jwks = [[f"{name}, CPU ms per fetch", f"{value:.2f}"] for name, value in cpu.items()]
    for setting, key in (("JWKS_REFRESH_AHEAD 0", "off"), ("JWKS_REFRESH_AHEAD 15", "ahead")):
        crossing = _get(results, "jwks", "crossing", key)
        shown = "n/a" if crossing is None else f"p50 {crossing['median_ms']:.1f}, p99 {crossing['p99_ms']:.1f}"
        jwks.append([f"first request after key expiry, ms, {setting}", shown])
    note = _get(results, "jwks", "crossing", "note")
    if note:
        jwks.append(["note", note])
    found.append(("Keys", ["measurement", "value"], jwks))
    files = results.get("files") or {}
    rows = [[f"{name}, MiB/s", f"{value:.0f}"] for name, value in (files.get("throughput_mib_s") or {}).items()]
    rows += [[f"{name}, µs per request", f"{value:.0f}"] for name, value in (files.get("small_us") or {}).items()]
    before = _get(results, "files", "memory", "before_mib") or {}
    rows.append(["worker peak RSS before, MiB", ", ".join(f"{mib:.1f}" for mib in before.values())])
    growth = _get(results, "files", "memory", "growth_mib") or {}
    rows.append(["worker peak RSS growth over 1 GiB, MiB", ", ".join(f"{mib:.1f}" for mib in growth.values())])
    found.append(("Files (256 MiB downloads, 1 KiB requests)", ["measurement", "value"], rows))
    return found


def text(table: Table) -> str:
    title, header, rows = table
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [title, "  ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)),
             "  ".join("-" * width for width in widths)]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def rst(table: Table) -> str:
    title, header, rows = table
    lines = [f".. list-table:: {title}", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        lines += [f"   * - {row[0] or ' '}"] + [f"     - {cell or ' '}" for cell in row[1:]]
    return "\n".join(line.rstrip() for line in lines)


def block(results: Results, environment: Mapping[str, str], *, quick: bool, image: bool) -> str:
    """The marked block of docs/performance.rst: when and where, the chart, the tables."""
    run = "quick run (``--quick``)" if quick else "full run"
    parts = [START, "", f"Measured {environment['date']}, {run}: Python {environment['python']}, Django "
             f"{environment['django']}, {environment['cores']} cores shared with other work.", ""]
    if image:
        parts += [".. image:: _static/performance.png",
                  "   :alt: Bar charts of each target's measured ratio or cost against its limit", ""]
    for table in tables(results):
        parts += [rst(table), ""]
    return "\n".join([*parts, END])


def write_docs(results: Results, environment: Mapping[str, str], *, quick: bool, image: bool) -> None:
    page = DOCS.read_text()
    head, found, rest = page.partition(START)
    _, ended, tail = rest.partition(END)
    if not found or not ended:
        raise RuntimeError(f"{DOCS} has no {START} ... {END} block")
    DOCS.write_text(head + block(results, environment, quick=quick, image=image) + tail)


def chart(results: Results, environment: Mapping[str, str], path: Path = CHART) -> str | None:
    """Draw the targets into ``path``; the reason when it cannot (no matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: the chart was not drawn (pip install matplotlib)"
    measured = [t for t in targets(results) if t.status != "n/a"]
    colours = {"PASS": "#4c9a5b", "FAIL": "#c8553d"}
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    panels = (
        (axes[0], [t for t in measured if t.at_least], "ratio (higher is better; black tick: target)", False),
        (axes[1], [t for t in measured if not t.at_least], "share of the limit (lower is better; line: limit)", True),
    )
    low, high = (0.01, 40.0), (0.0, 1.5)  # the axes' ranges; longer bars are cut, their labels say how long
    for axis, chosen, label, share in panels:
        rows = range(len(chosen))
        # The costs as a share of their limit, so that milliseconds and MiB share one axis.
        scale = [t.limit if share else 1.0 for t in chosen]
        bounds = low if share else high

        def clip(value: float, bounds: tuple[float, float] = bounds) -> float:
            return min(max(value, bounds[0] * 1.1), bounds[1] * 0.98)

        values = [clip(_number(t.value) / s) for t, s in zip(chosen, scale, strict=True)]
        axis.barh([r - 0.18 for r in rows], values, height=0.36, color=[colours[t.status] for t in chosen],
                  label="django-bearer-guard (green: target met, red: missed)")
        baselines = [(r, clip(t.reference / s)) for r, t, s in zip(rows, chosen, scale, strict=True) if t.reference]
        axis.barh([r + 0.18 for r, _ in baselines], [v for _, v in baselines], height=0.36, color="#9a9a9a",
                  label="beside it: simplejwt, PyJWKClient, token cache off")
        if share:
            axis.axvline(1.0, color="black", linewidth=1)
            axis.set_xscale("log")
        for row, target, value in zip(rows, chosen, values, strict=True):
            if not share:
                axis.plot([target.limit, target.limit], [row - 0.45, row + 0.45], color="black", linewidth=2)
            axis.text(value, row - 0.18, f" {target.show(target.value)}", va="center", fontsize=8,
                      bbox={"facecolor": "white", "edgecolor": "none", "pad": 1, "alpha": 0.8})
        axis.set_xlim(*bounds)
        axis.set_yticks(list(rows), [t.name for t in chosen], fontsize=8)
        axis.invert_yaxis()
        axis.set_xlabel(label, fontsize=9)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=2, fontsize=8)
    figure.suptitle(f"django-bearer-guard benchmark targets, {environment['date']}, {environment['cores']} cores")
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return None
